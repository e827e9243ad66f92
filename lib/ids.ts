/**
 * Ids that must not be mixed with other numbers where they cross a boundary. A rank is checked
 * once, where it is read or made, and is then a {@link Rank}: a plain count or index passed where
 * a rank is expected does not type-check.
 */
import { RingbookError } from "./errors.js";
import { quote } from "./json-guards.js";

declare const rankBrand: unique symbol;

/** A worker's rank: an integer >= 0 (below its world size, which the reader checks where it knows it). */
export type Rank = number & { readonly [rankBrand]: true };

/** What a rank and a step both are: an integer >= 0. */
function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** True when `value` can be a rank (an integer >= 0). */
export function isRank(value: unknown): value is Rank {
  return isCount(value);
}

/**
 * `value` as a {@link Rank}, or an `ERR_BAD_RANK` error quoting it.
 * @example
 * const rank = toRank(bootstrap.rank, "bootstrap field rank");
 */
export function toRank(value: unknown, what = "rank"): Rank {
  if (!isRank(value)) throw new RingbookError("ERR_BAD_RANK", `${what} must be an integer >= 0, got ${quote(value)}`);
  return value;
}

declare const stepBrand: unique symbol;

/**
 * A global optimizer step number, counted across resumed runs: an integer >= 0. Branded where it
 * crosses from a rank to the owner (step records), so an epoch or a step within an epoch passed
 * where a global step is expected does not type-check.
 */
export type Step = number & { readonly [stepBrand]: true };

/** True when `value` can be a step number (an integer >= 0). */
export function isStep(value: unknown): value is Step {
  return isCount(value);
}

/**
 * `value` as a {@link Step}, or an `ERR_BAD_STEP` error quoting it.
 * @example
 * const step = toStep(position.globalStep, "the global step");
 */
export function toStep(value: unknown, what = "step"): Step {
  if (!isStep(value)) throw new RingbookError("ERR_BAD_STEP", `${what} must be an integer >= 0, got ${quote(value)}`);
  return value;
}
