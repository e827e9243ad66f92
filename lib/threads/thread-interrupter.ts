/**
 * The interrupt protocol for a worker thread that runs someone's code, shared by the kernel's
 * cell thread and a cluster worker's execution thread. An inspector `Runtime.evaluate` of the
 * thread's probe runs even inside a busy loop; the probe finishes the running work as interrupted
 * on the thread's next event-loop turn and acknowledges. An acknowledgement within `idleAckMs`
 * means the code was only awaiting (abandoned, nothing to terminate). Without one, the thread is
 * busy in JavaScript, and only then is `Runtime.terminateExecution` sent, whose reply V8 sends
 * after the termination took effect and was cancelled, so none is left pending for later code. A
 * second probe then confirms the thread is responsive; if it is not, the caller replaces it.
 */
import type { WorkerInspector } from "./worker-inspector.js";

/** How an interrupt ended: acknowledged (or the work ended meanwhile), or a thread that no longer answers. */
export type InterruptOutcome = "stopped" | "unresponsive";

/** Options of {@link ThreadInterrupter.interrupt}. */
export interface InterruptOptions {
  /** The probe's expression for sequence number `seq`; `first` is false for the probe after a termination. */
  probe: (seq: number, first: boolean) => string;
  /** False once the work being interrupted ended by itself (nothing left to terminate). */
  stillRunning: () => boolean;
  /** Told before a busy thread's execution is terminated (e.g. for a log line). */
  onBusy?: () => void;
  /** @default 150 */
  idleAckMs?: number;
  /** @default 600 */
  terminatedAckMs?: number;
}

export class ThreadInterrupter {
  readonly #acks = new Map<number, () => void>();
  readonly #log: (line: string) => void;
  #nextSeq = 1;

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  /** The thread acknowledged probe `seq` (call it when its message arrives). */
  acknowledge(seq: number): void {
    this.#acks.get(seq)?.();
  }

  /** Interrupts the thread behind `inspector` (see the module comment). */
  async interrupt(inspector: WorkerInspector, options: InterruptOptions): Promise<InterruptOutcome> {
    if (await this.#probe(inspector, (seq) => options.probe(seq, true), options.idleAckMs ?? 150)) return "stopped";
    if (!options.stillRunning()) return "stopped";
    options.onBusy?.();
    const terminated = await inspector.send("Runtime.terminateExecution").catch((error: unknown) => error);
    if (terminated instanceof Error) this.#log(`interrupt: terminateExecution failed: ${terminated.message}`);
    if (await this.#probe(inspector, (seq) => options.probe(seq, false), options.terminatedAckMs ?? 600)) return "stopped";
    return options.stillRunning() ? "unresponsive" : "stopped";
  }

  /** Runs one probe; true when the thread acknowledged within `timeoutMs`. */
  async #probe(inspector: WorkerInspector, expression: (seq: number) => string, timeoutMs: number): Promise<boolean> {
    const seq = this.#nextSeq++;
    let timer: NodeJS.Timeout | undefined;
    const acked = new Promise<boolean>((resolve) => {
      this.#acks.set(seq, () => resolve(true));
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const evaluated = await inspector.send("Runtime.evaluate", { expression: expression(seq) }).catch((error: unknown) => error);
    if (evaluated instanceof Error) this.#log(`interrupt: probe failed: ${evaluated.message}`);
    try {
      return await acked;
    } finally {
      clearTimeout(timer);
      this.#acks.delete(seq);
    }
  }
}
