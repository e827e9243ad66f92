import { readFileSync } from "node:fs";
import { descendantsOf, isRunning, type ProcessIdentity } from "../../lib/process/process-tree.js";

/**
 * Records every process that appears below `rootPid` while it runs (sampled every `intervalMs`),
 * so a test can check afterwards that none of them outlived the run. Processes are identified by
 * pid and start time: a reused pid never counts as a leftover. `stop()` ends the sampling.
 */
export class DescendantWatch {
  readonly #seen = new Map<string, ProcessIdentity>();
  /** Command lines read when each process was first seen. */
  readonly #commands = new Map<string, string>();
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
    for (const process of descendantsOf(this.#rootPid)) {
      const key = `${process.pid}:${process.startTicks}`;
      if (this.#seen.has(key)) continue;
      this.#seen.set(key, process);
      try {
        this.#commands.set(key, readFileSync(`/proc/${process.pid}/cmdline`, "utf8").replaceAll("\0", " "));
      } catch {
        // Gone already.
      }
    }
  }

  /** Every process seen below the root so far. */
  get seen(): ProcessIdentity[] {
    return [...this.#seen.values()];
  }

  /** The seen processes whose command line matches `pattern`. */
  seenMatching(pattern: RegExp): ProcessIdentity[] {
    return [...this.#seen].filter(([key]) => pattern.test(this.#commands.get(key) ?? "")).map(([, process]) => process);
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
