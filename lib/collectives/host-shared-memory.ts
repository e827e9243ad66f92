/**
 * Files in the host's shared memory (`/dev/shm`, a tmpfs: its pages never reach a disk) through
 * which the ranks of a cluster that all run on one host pass all-reduce inputs and results,
 * instead of ZeroMQ messages: a megabyte crosses as one `pwrite` and one `pread` (memory copies in
 * the kernel) and the ranks exchange only tiny messages to say when. Plain file calls, so every
 * backend gains and no native code is needed.
 *
 * Each rank owns one file, created exclusively (never a file or link someone else made) with mode
 * 0600, and opens its peers' files read-only after checking that each is a regular file of this
 * user. Once every rank has opened every file the names are unlinked, so the files vanish with
 * the last process that holds them, whatever way it ends.
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { RingbookError } from "../errors.js";
import { bytesOf } from "./float-frames.js";

/** Where shared-memory files go: tmpfs, on Linux. */
export const sharedMemoryDirectory = "/dev/shm";

/** Whether this host has a shared-memory directory (Linux's tmpfs) to put files in. */
export function hasSharedMemoryDirectory(directory = sharedMemoryDirectory): boolean {
  try {
    return statSync(directory).isDirectory();
  } catch {
    return false;
  }
}

/**
 * One rank's view of the host's shared-memory files: its own, writable, and every peer's,
 * read-only. Made in two halves ({@link create} on every rank, then {@link openPeers} once every
 * rank has created its own) so that the ranks can agree between them that every step worked.
 */
export class HostSharedMemory {
  readonly #rank: number;
  readonly #paths: readonly string[];
  /** File descriptors by rank: this rank's own (read-write) and its peers' (read-only), once opened. */
  readonly #descriptors: Array<number | undefined>;
  /** Float32 values this rank's file can hold without growing. */
  #capacity = 0;
  #unlinked = false;
  #closed = false;

  private constructor(rank: number, paths: readonly string[], ownDescriptor: number) {
    this.#rank = rank;
    this.#paths = paths;
    this.#descriptors = paths.map((_, r) => (r === rank ? ownDescriptor : undefined));
  }

  /** The path of rank `rank`'s file: `<directory>/<prefix>-r<rank>`. */
  static pathOf(directory: string, prefix: string, rank: number): string {
    return join(directory, `${prefix}-r${rank}`);
  }

  /** Creates this rank's (empty) file; fails if the name exists, so no one else's file or link is ever used. */
  static create(options: { directory: string; prefix: string; rank: number; worldSize: number }): HostSharedMemory {
    const { directory, prefix, rank, worldSize } = options;
    if (!/^[A-Za-z0-9._-]+$/.test(prefix)) throw new RingbookError("ERR_BAD_ARGUMENT", `a shared-memory prefix may hold only letters, digits, '.', '_' and '-', got ${JSON.stringify(prefix)}`);
    const paths = Array.from({ length: worldSize }, (_, r) => HostSharedMemory.pathOf(directory, prefix, r));
    const own = openSync(paths[rank]!, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    return new HostSharedMemory(rank, paths, own);
  }

  /** Opens every peer's file read-only, checking that it is a regular file of this user that no one else may write. */
  openPeers(): void {
    const uid = process.getuid?.();
    this.#paths.forEach((path, rank) => {
      if (this.#descriptors[rank] !== undefined) return;
      const descriptor = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
      this.#descriptors[rank] = descriptor;
      const stat = fstatSync(descriptor);
      if (!stat.isFile() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
        throw new RingbookError("ERR_SHARED_MEMORY", `the shared-memory file of rank ${rank} (${path}) is not a private regular file of this user (mode ${(stat.mode & 0o777).toString(8)}, uid ${stat.uid})`);
      }
    });
  }

  /** Removes this rank's file name (the file lives on while any rank holds it open). Idempotent. */
  unlinkOwn(): void {
    if (this.#unlinked) return;
    this.#unlinked = true;
    try {
      unlinkSync(this.#paths[this.#rank]!);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  /** Makes this rank's file hold at least `values` float32 values (it never shrinks). */
  reserve(values: number): void {
    if (values <= this.#capacity) return;
    ftruncateSync(this.#own(), values * 4);
    this.#capacity = values;
  }

  /** Writes `values` into this rank's file at float offset `at`. */
  write(values: Float32Array, at: number): void {
    writeAll(this.#own(), bytesOf(values), at * 4);
  }

  /** Reads `into.length` float32 values from rank `rank`'s file at float offset `at`. */
  read(rank: number, into: Float32Array, at: number): void {
    const descriptor = this.#descriptors[rank];
    if (descriptor === undefined || this.#closed) throw new RingbookError("ERR_SHARED_MEMORY", `rank ${this.#rank} has not opened the shared-memory file of rank ${rank}`);
    readAll(descriptor, bytesOf(into), at * 4, rank);
  }

  /** Closes every file (and removes this rank's name if it is still there). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.unlinkOwn();
    } catch {
      // Closing goes on: a name left behind is an empty or private file in tmpfs.
    }
    for (const descriptor of this.#descriptors) {
      if (descriptor !== undefined) closeSync(descriptor);
    }
    this.#descriptors.fill(undefined);
  }

  #own(): number {
    const descriptor = this.#descriptors[this.#rank];
    if (descriptor === undefined || this.#closed) throw new RingbookError("ERR_SHARED_MEMORY", `rank ${this.#rank}'s shared-memory file is closed`);
    return descriptor;
  }
}

function writeAll(descriptor: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.byteLength; ) {
    done += writeSync(descriptor, bytes, done, bytes.byteLength - done, position + done);
  }
}

function readAll(descriptor: number, bytes: Uint8Array, position: number, rank: number): void {
  for (let done = 0; done < bytes.byteLength; ) {
    const read = readSync(descriptor, bytes, done, bytes.byteLength - done, position + done);
    if (read === 0) throw new RingbookError("ERR_SHARED_MEMORY", `the shared-memory file of rank ${rank} ended at byte ${position + done}, before the ${bytes.byteLength} bytes asked for at ${position}`);
    done += read;
  }
}

/** The message of a failed file call, for the log. */
export function sharedMemoryFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
