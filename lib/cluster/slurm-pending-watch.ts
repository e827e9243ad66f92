/**
 * While `salloc` waits, asks Slurm why (`squeue -h -j ID -o "%T %r"`) every few seconds and logs
 * each change ("Slurm job 12 pending: Resources"), so the cell that launched the cluster says what
 * it waits for instead of sitting silent. One question at a time, each bounded; `close()` stops
 * the timer and any question in flight.
 */
import { runSlurmCommand } from "./slurm-commands.js";

/** Parses `squeue -h -o "%T %r"`: the job's state and Slurm's reason ("PENDING Resources"). */
export function parseStateAndReason(text: string): { state: string; reason: string } | undefined {
  const match = /^(\S+)\s+(.*)$/.exec(text.trim());
  return match === null ? undefined : { state: match[1]!, reason: match[2]!.trim() };
}

export class SlurmPendingWatch {
  readonly #jobId: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #log: (line: string) => void;
  readonly #intervalMs: number;
  readonly #stop = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #last = "";

  constructor(jobId: string, options: { env: NodeJS.ProcessEnv; log: (line: string) => void; intervalMs: number }) {
    this.#jobId = jobId;
    this.#env = options.env;
    this.#log = options.log;
    this.#intervalMs = options.intervalMs;
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    if (this.#stop.signal.aborted) return;
    this.#timer = setTimeout(() => void this.#ask(), delayMs);
  }

  async #ask(): Promise<void> {
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(5000)]);
    try {
      const answer = parseStateAndReason(await runSlurmCommand("squeue", ["-h", "-j", this.#jobId, "-o", "%T %r"], { env: this.#env, signal }));
      const line = answer === undefined ? "" : answer.state === "PENDING" ? `Slurm job ${this.#jobId} pending: ${answer.reason}` : `Slurm job ${this.#jobId} ${answer.state.toLowerCase()}`;
      if (line !== "" && line !== this.#last && !this.#stop.signal.aborted) this.#log(line);
      this.#last = line;
    } catch (error) {
      // A question that failed (slurmctld busy) is asked again at the next tick; said once.
      const line = `Slurm job ${this.#jobId}: squeue did not answer: ${error instanceof Error ? error.message : String(error)}`;
      if (line !== this.#last && !this.#stop.signal.aborted) this.#log(line);
      this.#last = line;
    }
    this.#schedule(this.#intervalMs);
  }

  /** Stops asking. Idempotent. */
  close(): void {
    this.#stop.abort(new Error("the allocation is no longer pending"));
    clearTimeout(this.#timer);
  }
}
