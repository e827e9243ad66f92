/**
 * Unknown option names are a user's typo until proven otherwise: they are refused with the
 * closest known name instead of being ignored.
 */
import { RingbookError, type ErrorCode } from "../errors.js";

/** Edit distance (insertions, deletions, substitutions), case-insensitive. */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[y.length]!;
}

/** The known name closest to `name`, when it is close enough to be the one meant. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase().replace(/[_-]/g, "");
  // A name the misspelt one begins (`cosine` for `cosineDecay`) or contains is the likeliest meant.
  const extended = known.filter((candidate) => candidate.toLowerCase().startsWith(lower) || (lower.length >= 4 && candidate.toLowerCase().includes(lower)));
  if (lower.length >= 3 && extended.length > 0) return extended.reduce((a, b) => (b.length < a.length ? b : a));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(name.replace(/[_-]/g, ""), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(2, Math.floor(Math.max(name.length, best.length) / 3));
  const prefix = best.toLowerCase().startsWith(lower) || lower.startsWith(best.toLowerCase());
  return bestDistance <= allowed || (prefix && Math.min(lower.length, best.length) >= 3) ? best : undefined;
}

/** `"; did you mean `epochs`?"` when a known name is close, else `""`. */
export function suggestName(name: string, known: readonly string[]): string {
  const closest = closestName(name, known);
  return closest === undefined ? "" : `; did you mean \`${closest}\`?`;
}

/**
 * Refuses keys of `object` that are not in `known`: "unknown option `epoch`; did you mean
 * `epochs`?", or the list of known names when none is close. `where` prefixes nested options
 * (`checkpoint.`).
 */
export function checkKnownKeys(object: object, known: readonly string[], where = "", code: ErrorCode = "ERR_UNKNOWN_OPTION"): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue;
    const closest = closestName(key, known);
    throw new RingbookError(
      code,
      closest === undefined
        ? `unknown option \`${where}${key}\`; the options${where === "" ? "" : ` of ${where.slice(0, -1)}`} are ${known.join(", ")}`
        : `unknown option \`${where}${key}\`; did you mean \`${where}${closest}\`?`,
    );
  }
}
