/**
 * A directory replaced as a whole or not at all: its new contents are written into a temporary
 * sibling, then swapped in by two renames with the old directory kept as `<dir>.previous` between
 * them. A crash or a failed write at any point leaves a complete directory to read: `dir`, or
 * `<dir>.previous` when the crash fell between the two renames ({@link readableDirectory}).
 */
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { RingbookError } from "../errors.js";

/** Where the directory before the last one waits while the last is renamed into place. */
export function previousOf(dir: string): string {
  return `${dir}.previous`;
}

/** Distinguishes temporary siblings of two saves of one process that overlap. */
let writes = 0;

/** Replacements under way in this process: an interrupted task's result waits for them ({@link replacementsSettled}). */
const replacing = new Set<Promise<void>>();

/**
 * Resolves once every directory replacement under way in this process has finished or failed.
 * An interrupted task abandons its code at an `await`, but the file operations it started go on:
 * a task that reports "interrupted" first waits here, so that no one who has seen it end (a run
 * that failed because a peer died) reads a checkpoint still being swapped in.
 */
export async function replacementsSettled(): Promise<void> {
  while (replacing.size > 0) await Promise.allSettled([...replacing]);
}

/**
 * Replaces `dir` with what `fill` writes into an empty temporary directory. Parent directories are
 * created. An existing `dir` is only replaced when `owns` recognises its entries (or it is empty):
 * a directory of someone else's files is refused, not deleted. On failure the temporary directory
 * is removed and the error is rethrown; `dir` (or its `.previous`) is untouched.
 */
export async function replaceDirectory(
  dir: string,
  fill: (temporary: string) => Promise<void>,
  options: { owns: (entries: readonly string[]) => boolean; what: string },
): Promise<void> {
  const replacement = replace(dir, fill, options);
  replacing.add(replacement);
  try {
    await replacement;
  } finally {
    replacing.delete(replacement);
  }
}

async function replace(
  dir: string,
  fill: (temporary: string) => Promise<void>,
  options: { owns: (entries: readonly string[]) => boolean; what: string },
): Promise<void> {
  await checkReplaceable(dir, options);
  await mkdir(dirname(dir), { recursive: true });
  await removeAbandonedWrites(dir);
  const temporary = `${dir}.writing-${process.pid}-${++writes}`;
  try {
    await rm(temporary, { recursive: true, force: true });
    await mkdir(temporary);
    await fill(temporary);
    await swapIn(temporary, dir);
  } catch (error) {
    // A full disk may refuse even this; a later save removes it (removeAbandonedWrites).
    await rm(temporary, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

/** The directory to read: `dir`, or its `.previous` when a save was cut between its renames and `dir` lacks `marker`. */
export async function readableDirectory(dir: string, marker: string): Promise<string> {
  const has = async (candidate: string): Promise<boolean> => stat(join(candidate, marker)).then(() => true, () => false);
  if (await has(dir)) return dir;
  const previous = previousOf(dir);
  return (await has(previous)) ? previous : dir;
}

/**
 * Writes `bytes` to `path` and flushes them to the disk before returning: a rename that follows
 * must never publish a file whose data is still only in the page cache (after a power loss, a
 * renamed but unflushed file can be empty).
 */
export async function writeFileDurably(path: string, bytes: Uint8Array | string): Promise<void> {
  const handle = await open(path, "w");
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function swapIn(temporary: string, dir: string): Promise<void> {
  // Two renames, the old directory kept until the new one is in place: a failure or a crash
  // between them leaves `<dir>.previous`, which readers take when `dir` is missing.
  const previous = previousOf(dir);
  // Without `dir`, a `.previous` is what a save cut between its renames left: the only complete
  // copy, kept until the new one is in place.
  const replacing = await stat(dir).then(() => true, () => false);
  if (replacing) {
    await rm(previous, { recursive: true, force: true });
    await rename(dir, previous);
  }
  try {
    await rename(temporary, dir);
  } catch (error) {
    if (replacing) await rename(previous, dir).catch(() => undefined);
    throw error;
  }
  await rm(previous, { recursive: true, force: true });
}

async function checkReplaceable(dir: string, options: { owns: (entries: readonly string[]) => boolean; what: string }): Promise<void> {
  const absolute = resolve(dir);
  if (absolute === process.cwd() || dirname(absolute) === absolute) {
    throw new RingbookError("ERR_SAVE_TARGET", `cannot write ${options.what} to ${JSON.stringify(dir)} (${absolute}): saving replaces the whole directory; give it a directory of its own, e.g. "runs/exp1"`);
  }
  let entries: string[];
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) {
      throw new RingbookError("ERR_SAVE_TARGET", `cannot write ${options.what} to ${dir}: it is a file, not a directory; give a directory path`);
    }
    entries = await readdir(dir);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return;
    throw error;
  }
  if (entries.length > 0 && !options.owns(entries)) {
    const shown = entries.slice(0, 5).join(", ") + (entries.length > 5 ? `, … (${entries.length} entries)` : "");
    throw new RingbookError(
      "ERR_SAVE_TARGET",
      `refusing to replace ${dir} with ${options.what}: it holds files that are not one (${shown}); saving replaces the whole directory, so use a new or empty one`,
    );
  }
}

/** Removes `<dir>.writing-<pid>-<n>` siblings left by processes that died mid-write. */
async function removeAbandonedWrites(dir: string): Promise<void> {
  const prefix = `${basename(dir)}.writing-`;
  const siblings = await readdir(dirname(dir)).catch(() => [] as string[]);
  for (const name of siblings) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split("-")[0]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || isRunning(pid)) continue;
    await rm(join(dirname(dir), name), { recursive: true, force: true }).catch(() => undefined);
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, someone else's.
    return !isErrno(error, "ESRCH");
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
