/**
 * A running task as its owner sees it: its events (rank output, and the kind's own events parsed
 * into their types) as an async iterable, every rank's result parsed into the kind's result type,
 * and `stop()`. A payload that does not parse is never dropped silently: it stops the task and the
 * result rejects with an error naming the rank and the field.
 */
import { deserialize } from "node:v8";
import { RingbookError } from "../errors.js";
import type { PendingTask, TaskEvent } from "./pending-task.js";
import { taskKindOf, type TaskEventOf, type TaskKind, type TaskKindName, type TaskResultOf } from "./task-kinds.js";
import { collectResults } from "./task-output.js";

/** What a task's consumer sees: rank output, or one of the kind's events. */
export type TaskHandleEvent<Event> = (TaskEvent & { kind: "output" }) | { kind: "event"; rank: number; event: Event };

/**
 * One task of kind `Kind` on its ranks. Made by the cluster when it sends the task.
 * @example
 * for await (const event of handle.events()) if (event.kind === "event") onEvent(event.event);
 * const results = await handle.result();
 */
export class TaskHandle<Kind extends TaskKindName> {
  readonly kindName: Kind;
  readonly #kind: TaskKind<TaskEventOf<Kind>, TaskResultOf<Kind>>;
  readonly #pending: PendingTask;
  readonly #stop: () => void;
  /** The first payload that did not parse: the task's result is this error. */
  #payloadError: Error | undefined;

  /**
   * @param stop asks the task's ranks to end it (stop training at an agreed step, or interrupt)
   */
  constructor(kindName: Kind, pending: PendingTask, stop: () => void) {
    this.kindName = kindName;
    this.#kind = taskKindOf(kindName);
    this.#pending = pending;
    this.#stop = stop;
  }

  get taskId(): string {
    return this.#pending.taskId;
  }

  /** Target ranks, in result order. */
  get ranks(): readonly number[] {
    return this.#pending.ranks;
  }

  /** Asks every rank still running the task to end it. */
  stop(): void {
    this.#stop();
  }

  /** Output and parsed events until every rank has settled. One consumer. */
  async *events(): AsyncGenerator<TaskHandleEvent<TaskEventOf<Kind>>, void, undefined> {
    for await (const event of this.#pending.events()) {
      if (event.kind === "output") {
        yield event;
        continue;
      }
      let parsed: TaskEventOf<Kind>;
      try {
        parsed = this.#kind.parseEvent(this.#read(event.payload, event.rank, "event"), `rank ${event.rank}'s ${this.kindName} event`);
      } catch (error) {
        this.#rejectPayload(error);
        continue;
      }
      yield { kind: "event", rank: event.rank, event: parsed };
    }
  }

  /**
   * Every rank's result, in rank order, once all have settled; rejects with the ranks' errors
   * (see collectResults) or with the first payload that did not parse.
   */
  async result(): Promise<Array<TaskResultOf<Kind>>> {
    await this.#pending.whenSettled();
    if (this.#payloadError !== undefined) throw this.#payloadError;
    const values = collectResults(this.#pending.outcomes());
    return values.map((value, index) => this.#kind.parseResult(value, `rank ${this.ranks[index]}'s ${this.kindName} result`));
  }

  /** A payload's structured-clone value (`undefined` when there was none). */
  #read(payload: Buffer | null, rank: number, what: string): unknown {
    if (payload === null) return undefined;
    try {
      return deserialize(payload);
    } catch (error) {
      throw new RingbookError("ERR_BAD_PAYLOAD", `rank ${rank}'s ${this.kindName} ${what} could not be read: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  #rejectPayload(error: unknown): void {
    if (this.#payloadError !== undefined) return;
    this.#payloadError = error instanceof Error ? error : new RingbookError("ERR_BAD_PAYLOAD", String(error));
    this.stop();
  }
}
