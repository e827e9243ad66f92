/**
 * A task sent to some ranks and not yet finished on all of them. Its events (output, training
 * events) and its end are consumed by the caller's own `for await` loop, not by the socket's
 * receive loop: code that runs in the caller's async context (a notebook cell) is what prints,
 * so a worker's output lands in the cell that started the task, not the one that launched the
 * cluster.
 */
import { AsyncQueue } from "../async-queue.js";
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
  /**
   * Unbounded: its producer is the socket's receive loop, which must not wait, and its consumer
   * (the cluster's loop in the caller's cell) only prints and hands events on, so it keeps up.
   * Training bounds its own rate (records are batched every `metricsIntervalMs`).
   */
  readonly #events = new AsyncQueue<TaskEvent>();
  readonly #settled: Promise<void>;
  #markSettled: () => void = () => undefined;

  constructor(taskId: string, ranks: readonly number[], stoppable = false) {
    if (ranks.length === 0) throw new RingbookError("ERR_NO_RANKS", `task ${taskId} has no target ranks`);
    this.taskId = taskId;
    this.ranks = ranks;
    this.stoppable = stoppable;
    this.#settled = new Promise((resolve) => (this.#markSettled = resolve));
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

  /** Queues an event for the consumer; one that arrives after every rank settled is dropped (false). */
  push(event: TaskEvent): boolean {
    return this.#events.push(event);
  }

  /** Records a rank's outcome; later ones for the same rank are ignored (a death after its result changes nothing). */
  settle(rank: number, outcome: RankOutcome): void {
    if (!this.includes(rank) || this.#outcomes.has(rank)) return;
    this.#outcomes.set(rank, outcome);
    if (!this.settled) return;
    this.#events.close();
    this.#markSettled();
  }

  /** Resolves once every target rank has an outcome. */
  whenSettled(): Promise<void> {
    return this.#settled;
  }

  /** Outcomes in result order (only meaningful once {@link settled}). */
  outcomes(): Array<{ rank: number; outcome: RankOutcome }> {
    return this.ranks.map((rank) => ({ rank, outcome: this.#outcomes.get(rank) ?? { status: "error", error: new RingbookError("ERR_NO_OUTCOME", `rank ${rank} has no outcome`) } }));
  }

  /** Events until every rank has settled (those queued by then included); then the loop ends. One consumer. */
  events(): AsyncIterable<TaskEvent> {
    return this.#events;
  }
}
