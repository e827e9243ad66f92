/**
 * A task sent to some ranks and not yet finished on all of them. Its events (output, training
 * events) and its end are consumed by the caller's own `for await` loop, not by the socket's
 * receive loop: code that runs in the caller's async context (a notebook cell) is what prints,
 * so a worker's output lands in the cell that started the task, not the one that launched the
 * cluster.
 */
import { RingbookError } from "../errors.js";

/** Something that happened on a rank while the task ran. */
export type TaskEvent =
  | { kind: "output"; rank: number; stream: "stdout" | "stderr"; text: string }
  | { kind: "event"; rank: number; payload: Buffer | null };

/** How the task ended on one rank. */
export type RankOutcome = { status: "ok"; value: unknown } | { status: "error"; error: Error } | { status: "interrupted" };

export class PendingTask {
  readonly taskId: string;
  /** Target ranks, in result order. */
  readonly ranks: readonly number[];
  /** Training: an interrupt asks it to stop at an agreed step instead of abandoning it. */
  readonly stoppable: boolean;
  readonly #outcomes = new Map<number, RankOutcome>();
  #events: TaskEvent[] = [];
  #wake: (() => void) | undefined;

  constructor(taskId: string, ranks: readonly number[], stoppable = false) {
    if (ranks.length === 0) throw new RingbookError("ERR_NO_RANKS", `task ${taskId} has no target ranks`);
    this.taskId = taskId;
    this.ranks = ranks;
    this.stoppable = stoppable;
  }

  /** True once every target rank has an outcome. */
  get settled(): boolean {
    return this.#outcomes.size === this.ranks.length;
  }

  /** Ranks still running the task. */
  get unsettledRanks(): number[] {
    return this.ranks.filter((rank) => !this.#outcomes.has(rank));
  }

  includes(rank: number): boolean {
    return this.ranks.includes(rank);
  }

  push(event: TaskEvent): void {
    this.#events.push(event);
    this.#wakeConsumer();
  }

  /** Records a rank's outcome; later ones for the same rank are ignored (a death after its result changes nothing). */
  settle(rank: number, outcome: RankOutcome): void {
    if (!this.includes(rank) || this.#outcomes.has(rank)) return;
    this.#outcomes.set(rank, outcome);
    this.#wakeConsumer();
  }

  /** Outcomes in result order (only meaningful once {@link settled}). */
  outcomes(): Array<{ rank: number; outcome: RankOutcome }> {
    return this.ranks.map((rank) => ({ rank, outcome: this.#outcomes.get(rank) ?? { status: "error", error: new RingbookError("ERR_NO_OUTCOME", `rank ${rank} has no outcome`) } }));
  }

  /** Events until every rank has settled; then the loop ends. One consumer. */
  async *events(): AsyncGenerator<TaskEvent, void, undefined> {
    for (;;) {
      if (this.#events.length > 0) {
        const batch = this.#events;
        this.#events = [];
        yield* batch;
        continue;
      }
      if (this.settled) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #wakeConsumer(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
