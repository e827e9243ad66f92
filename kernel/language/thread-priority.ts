/**
 * Lowers the OS scheduling priority of the calling thread (Linux only). The language service's
 * type checks are background work: on a machine with few cores they must not take CPU time from
 * the threads that run cells and answer the front end.
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";

/**
 * Sets the nice value of this thread (not of the process: on Linux, setpriority with a thread id
 * affects that thread only). Returns false where that is not possible (other systems, no /proc).
 */
export function lowerThisThreadPriority(nice = 19): boolean {
  if (process.platform !== "linux") return false;
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>".
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
