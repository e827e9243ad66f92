/**
 * A directory only the current user can open (mode 0700), for a cluster's ipc endpoints: on
 * Linux, connecting to a unix socket needs search permission on its directory, so no other user
 * can even reach the sockets. Paths are kept short: a unix socket path has at most ~107 bytes.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RingbookError } from "../errors.js";

/** Longest ipc socket name this directory will be asked to hold (e.g. "peer-1023-99"). */
const longestName = 16;
/** sun_path is 108 bytes including the terminating zero. */
const maxSocketPath = 107;

/** A private directory with an idempotent {@link PrivateDir.remove}. */
export class PrivateDir {
  readonly path: string;
  #removed = false;

  private constructor(path: string) {
    this.path = path;
  }

  /** Creates it under `$XDG_RUNTIME_DIR` when set and short enough, else under the temp dir. */
  static async create(prefix = "rb-"): Promise<PrivateDir> {
    const candidates = [process.env["XDG_RUNTIME_DIR"], tmpdir(), "/tmp"].filter((dir): dir is string => typeof dir === "string" && dir.length > 0);
    const base = candidates.find((dir) => dir.length + prefix.length + 8 + longestName < maxSocketPath);
    if (base === undefined) throw new RingbookError("ERR_IPC_DIR", `no directory short enough for ipc socket paths among ${JSON.stringify(candidates)}`);
    // mkdtemp creates the directory with mode 0700.
    const path = await mkdtemp(join(base, prefix));
    const mode = (await stat(path)).mode & 0o777;
    if (mode !== 0o700) {
      await rm(path, { recursive: true, force: true });
      throw new RingbookError("ERR_IPC_DIR", `the private directory ${path} got mode ${mode.toString(8)}, expected 700`);
    }
    return new PrivateDir(path);
  }

  /** An ipc endpoint for socket `name` in this directory. */
  endpoint(name: string): string {
    if (!/^[\w.-]+$/.test(name) || name.length > longestName) throw new RingbookError("ERR_IPC_NAME", `bad ipc socket name ${JSON.stringify(name)}`);
    return `ipc://${join(this.path, name)}`;
  }

  /** Removes the directory and every socket file in it. Idempotent. */
  async remove(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    await rm(this.path, { recursive: true, force: true });
  }
}
