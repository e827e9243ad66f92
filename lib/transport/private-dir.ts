/**
 * A directory only the current user can open (mode 0700), for a cluster's ipc endpoints: on
 * Linux, connecting to a unix socket needs search permission on its directory, so no other user
 * can even reach the sockets. Paths are kept short: a unix socket path has at most ~107 bytes.
 *
 * The directory belongs to the process that made it, which `remove()` it when its cluster closes.
 * A process that ends without closing its clusters (`process.exit()`, an uncaught error, SIGINT or
 * SIGTERM with no handler of its own) removes them as it goes; one killed with SIGKILL cannot, and
 * the next directory made on the machine removes it instead: every directory records its owner's
 * pid and start time, and one whose owner no longer runs is removed (only the user's own).
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RingbookError } from "../errors.js";
import { identityOf, isRunning } from "../process/process-tree.js";

/** Longest ipc socket name this directory will be asked to hold (e.g. "peer-1023-99"). */
const longestName = 16;
/** sun_path is 108 bytes including the terminating zero. */
const maxSocketPath = 107;
/** The file in each directory that names its owner: `<pid> <start ticks>`. */
const ownerFile = "owner";
const defaultPrefix = "rb-";

/** Directories of this process not removed yet, removed synchronously if it ends without closing them. */
const liveDirs = new Set<string>();

/** A private directory with an idempotent {@link PrivateDir.remove}. */
export class PrivateDir {
  readonly path: string;
  #removed = false;

  private constructor(path: string) {
    this.path = path;
  }

  /** Creates it under `$XDG_RUNTIME_DIR` when set and short enough, else under the temp dir. */
  static async create(prefix = defaultPrefix): Promise<PrivateDir> {
    const candidates = [process.env["XDG_RUNTIME_DIR"], tmpdir(), "/tmp"].filter((dir): dir is string => typeof dir === "string" && dir.length > 0);
    const base = candidates.find((dir) => dir.length + prefix.length + 8 + longestName < maxSocketPath);
    if (base === undefined) throw new RingbookError("ERR_IPC_DIR", `no directory short enough for ipc socket paths among ${JSON.stringify(candidates)}`);
    removeAbandoned(base, prefix);
    // mkdtemp creates the directory with mode 0700.
    const path = await mkdtemp(join(base, prefix));
    const mode = (await stat(path)).mode & 0o777;
    if (mode !== 0o700) {
      await rm(path, { recursive: true, force: true });
      throw new RingbookError("ERR_IPC_DIR", `the private directory ${path} got mode ${mode.toString(8)}, expected 700`);
    }
    const owner = identityOf(process.pid);
    writeFileSync(join(path, ownerFile), `${process.pid} ${owner?.startTicks ?? "unknown"}\n`, { mode: 0o600 });
    liveDirs.add(path);
    watchProcessEnd();
    return new PrivateDir(path);
  }

  /** An ipc endpoint for socket `name` in this directory. */
  endpoint(name: string): string {
    if (!/^[\w.-]+$/.test(name) || name.length > longestName || name === ownerFile) throw new RingbookError("ERR_IPC_NAME", `bad ipc socket name ${JSON.stringify(name)}`);
    return `ipc://${join(this.path, name)}`;
  }

  /** Removes the directory and every socket file in it. Idempotent. */
  async remove(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    liveDirs.delete(this.path);
    await rm(this.path, { recursive: true, force: true });
  }
}

/**
 * Removes the user's directories under `base` whose owner no longer runs (its pid is gone, or
 * taken by a process that started at another time). Directories without a readable owner record
 * are left alone: they may be another version's, or being made right now.
 */
export function removeAbandoned(base: string, prefix = defaultPrefix): string[] {
  const uid = process.getuid?.();
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const path = join(base, name);
    try {
      const info = statSync(path);
      if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) continue;
      const [pid, startTicks] = readFileSync(join(path, ownerFile), "utf8").trim().split(" ").map(Number);
      if (pid === undefined || !Number.isInteger(pid) || pid <= 0) continue;
      const alive = startTicks === undefined || !Number.isInteger(startTicks) ? identityOf(pid) !== undefined : isRunning({ pid, startTicks });
      if (alive) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // Gone meanwhile, or not ours to read: leave it.
    }
  }
  return removed;
}

let watching = false;

/** Once per process: remove live directories on exit, and on SIGINT/SIGTERM that nothing else handles. */
function watchProcessEnd(): void {
  if (watching) return;
  watching = true;
  process.on("exit", removeLiveDirs);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    // With a handler of its own the process decides what the signal means (a kernel interrupts
    // a cell on SIGINT and closes its clusters on SIGTERM): it still removes them on exit.
    if (process.listenerCount(signal) > 0) continue;
    const onSignal = (): void => {
      process.off(signal, onSignal);
      if (process.listenerCount(signal) > 0) return;
      removeLiveDirs();
      // Die of the signal, as the process would have without this handler.
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function removeLiveDirs(): void {
  for (const path of liveDirs) rmSync(path, { recursive: true, force: true });
  liveDirs.clear();
}
