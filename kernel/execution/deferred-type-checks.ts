/**
 * Type checks of cells (`--type-check warn` and `auto`) as background work that yields to cells.
 * Checks run once no cell has started for `idleDelayMs`, and a cell that starts pauses the queue
 * after the check in flight. A run of short cells (run-all, a script driving the kernel) is then
 * never slowed by the language service: on a two-core machine a check competing with a cell made
 * the cell ~0.6 ms slower. A long cell (training) is checked while it runs, so that its warnings
 * arrive before its idle status: JupyterLab drops output for a request once it has seen the
 * reply and idle. A check that runs late still sees what its cell saw (the model is cut at
 * `contextCells`), and its warnings go to its own cell.
 */
import { RingbookError } from "../../lib/errors.js";

/** A cell waiting for its type check. */
export interface PendingCheck {
  cellId: string;
  code: string;
  executionCount: number;
  /** Cells committed to the language model before this one ran. */
  contextCells: number;
}

export interface DeferredTypeChecksOptions {
  /** Quiet time after the last cell started before checks run. */
  idleDelayMs: number;
  /** Checks kept waiting at most; beyond, the oldest is dropped with a log line. */
  maxPending: number;
  /** Runs one check (and reports its warnings); a rejection is logged. */
  check(pending: PendingCheck): Promise<void>;
  log(line: string): void;
}

/** The queue of pending checks and the idle timer that releases it. */
export class DeferredTypeChecks {
  readonly #options: DeferredTypeChecksOptions;
  #queue: PendingCheck[] = [];
  /** Cells started so far: a drain stops as soon as one more has started. */
  #cellsStarted = 0;
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(options: DeferredTypeChecksOptions) {
    if (!Number.isFinite(options.idleDelayMs) || options.idleDelayMs < 0) {
      throw new RingbookError("TYPE_CHECK_OPTIONS", `idleDelayMs must be a non-negative number, got ${options.idleDelayMs}`);
    }
    if (!Number.isInteger(options.maxPending) || options.maxPending < 1) {
      throw new RingbookError("TYPE_CHECK_OPTIONS", `maxPending must be a positive integer, got ${options.maxPending}`);
    }
    this.#options = options;
  }

  /** Checks waiting to run. */
  get pending(): number {
    return this.#queue.length;
  }

  /** A cell starts: its check (if any) is queued, checks pause, and the quiet time starts again. */
  cellStarted(check?: PendingCheck): void {
    this.#cellsStarted++;
    clearTimeout(this.#timer);
    if (this.#closed) return;
    if (check !== undefined) {
      this.#queue.push(check);
      if (this.#queue.length > this.#options.maxPending) {
        const dropped = this.#queue.shift();
        this.#options.log(`type check of In[${dropped?.executionCount}] skipped: more than ${this.#options.maxPending} checks were waiting`);
      }
    }
    if (this.#queue.length === 0) return;
    this.#timer = setTimeout(() => this.#drain(), this.#options.idleDelayMs);
    // Pending checks never keep a process alive.
    this.#timer.unref();
  }

  /** Drops the waiting checks and waits for the one in flight. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#queue = [];
    await this.#draining;
  }

  /** Runs checks after the one in flight (if any), as long as no further cell starts. */
  #drain(): void {
    const cellsStarted = this.#cellsStarted;
    const previous = this.#draining ?? Promise.resolve();
    this.#draining = previous.then(async () => {
      // Stops once another cell has started, even if it has finished meanwhile: its start
      // armed the timer again, so checks resume only after a quiet time.
      while (this.#cellsStarted === cellsStarted && !this.#closed) {
        const next = this.#queue.shift();
        if (next === undefined) return;
        await this.#options.check(next).catch((error: unknown) => {
          this.#options.log(`type check of In[${next.executionCount}] failed: ${error instanceof Error ? error.message : String(error)}`);
        });
      }
    });
  }
}
