import { readFileSync } from "node:fs";
import { descendantsOf, isRunning, type ProcessIdentity } from "../../lib/process/process-tree.js";

/**
 * Records every process that appears below `rootPid` while it runs (sampled every `intervalMs`),
 * so a test can check afterwards that none of them outlived the run. Processes are identified by
 * pid and start time: a reused pid never counts as a leftover. `stop()` ends the sampling.
 */
export class DescendantWatch {
  readonly #seen = new Map<string, ProcessIdentity>();
  readonly #timer: NodeJS.Timeout;
  #rootPid: number | undefined;

  constructor(intervalMs = 100) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Starts watching below `pid` (call it from runProcess's onSpawn). */
  watch(pid: number): void {
    this.#rootPid = pid;
    this.sample();
  }

  sample(): void {
    if (this.#rootPid === undefined) return;
    for (const process of descendantsOf(this.#rootPid)) this.#seen.set(`${process.pid}:${process.startTicks}`, process);
  }

  /** Every process seen below the root so far. */
  get seen(): ProcessIdentity[] {
    return [...this.#seen.values()];
  }

  /** The seen processes that still run. */
  stillRunning(): ProcessIdentity[] {
    return this.seen.filter(isRunning);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** The `--` flags on a running process's command line (Linux `/proc`). */
export function nodeFlagsOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((arg) => arg.startsWith("--"));
}
