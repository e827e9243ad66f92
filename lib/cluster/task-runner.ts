/**
 * Runs a worker's tasks one at a time, in the order they arrive (every rank sees the same order,
 * which collectives inside tasks rely on). User code is started from a fresh macrotask, never from
 * the queue's own stack: an interrupt may terminate the running JavaScript (`terminateExecution`)
 * and only the user's frames may die with it. A task ends when its code settles or when it is
 * interrupted, whichever comes first; a late settlement of an interrupted task is ignored.
 */
import { setTimeout as delay } from "node:timers/promises";
import { serialize } from "node:v8";
import type { RemoteErrorInfo } from "./messages.js";

/** How a task ended. */
export type TaskOutcome =
  | { status: "ok"; value: unknown }
  | { status: "error"; error: unknown }
  | { status: "interrupted" };

/** One queued task: `start` runs the user's code and returns its promise. */
export interface QueuedTask {
  taskId: string;
  start: () => Promise<unknown>;
  /** Called once with the outcome; `taskId` is no longer running when it is called. */
  finish: (outcome: TaskOutcome) => void;
}

/**
 * Work an interrupted task's code started that must not outlive the task's reported end (a
 * checkpoint being swapped in: whoever sees the task end may read it at once).
 */
export interface AbandonedWork {
  /** Resolves once that work has finished or failed. */
  settled: () => Promise<void>;
  /** The longest the outcome waits for it. @default 5000 */
  maxWaitMs?: number;
}

/** The serial queue of one execution thread. */
export class TaskRunner {
  readonly #queue: QueuedTask[] = [];
  readonly #setImmediate: typeof setImmediate;
  readonly #onStart: (taskId: string | null) => void;
  readonly #abandonedWork: AbandonedWork;
  #running: { task: QueuedTask; settle: (outcome: TaskOutcome) => void } | undefined;
  #draining = false;

  /**
   * @param setImmediateFn the thread's original `setImmediate` (user code may replace the global)
   * @param onStart told which task runs now (for output attribution), `null` when idle
   * @param abandonedWork what an interrupted task's outcome waits for before it is reported
   */
  constructor(setImmediateFn: typeof setImmediate, onStart: (taskId: string | null) => void, abandonedWork: AbandonedWork = { settled: async () => {} }) {
    this.#setImmediate = setImmediateFn;
    this.#onStart = onStart;
    this.#abandonedWork = abandonedWork;
  }

  /** The running task's id, if any. */
  get runningTaskId(): string | null {
    return this.#running?.task.taskId ?? null;
  }

  get busy(): boolean {
    return this.#running !== undefined || this.#queue.length > 0;
  }

  enqueue(task: QueuedTask): void {
    this.#queue.push(task);
    if (!this.#draining) void this.#drain();
  }

  /**
   * Ends task `taskId` as interrupted: the running one is abandoned (or was terminated by the
   * caller), a queued one is dropped. `null` interrupts the running task and drops every queued one.
   */
  interrupt(taskId: string | null): void {
    if (taskId === null || this.#running?.task.taskId === taskId) this.#running?.settle({ status: "interrupted" });
    const dropped: QueuedTask[] = [];
    const kept: QueuedTask[] = [];
    for (const task of this.#queue.splice(0)) (taskId === null || task.taskId === taskId ? dropped : kept).push(task);
    this.#queue.push(...kept);
    for (const task of dropped) task.finish({ status: "interrupted" });
  }

  /**
   * Waits, for a bounded time, for what the interrupted code left under way: code terminated
   * mid-operation may leave it pending for ever, and the result must still be sent.
   */
  async #awaitAbandonedWork(): Promise<void> {
    const timer = new AbortController();
    const { settled, maxWaitMs = 5000 } = this.#abandonedWork;
    try {
      await Promise.race([settled().catch(() => undefined), delay(maxWaitMs, undefined, { signal: timer.signal }).catch(() => undefined)]);
    } finally {
      timer.abort();
    }
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (let task = this.#queue.shift(); task !== undefined; task = this.#queue.shift()) {
        const outcome = await this.#run(task);
        if (outcome.status === "interrupted") await this.#awaitAbandonedWork();
        this.#running = undefined;
        this.#onStart(null);
        task.finish(outcome);
      }
    } finally {
      this.#draining = false;
    }
  }

  #run(task: QueuedTask): Promise<TaskOutcome> {
    return new Promise<TaskOutcome>((resolve) => {
      let settled = false;
      const settle = (outcome: TaskOutcome): void => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      this.#running = { task, settle };
      this.#onStart(task.taskId);
      this.#setImmediate(() => {
        let promise: Promise<unknown>;
        try {
          promise = task.start();
        } catch (error) {
          settle({ status: "error", error });
          return;
        }
        promise.then(
          (value) => settle({ status: "ok", value }),
          (error: unknown) => settle({ status: "error", error }),
        );
      });
    });
  }
}

/** An error as it travels: name, message, stack and code survive; anything thrown is accepted. */
export function toRemoteError(error: unknown): RemoteErrorInfo {
  if (error instanceof Error) {
    const info: RemoteErrorInfo = { name: error.name, message: error.message, stack: error.stack ?? `${error.name}: ${error.message}` };
    const code = "code" in error ? error.code : undefined;
    if (typeof code === "string") info.code = code;
    return info;
  }
  const text = typeof error === "string" ? error : safeString(error);
  return { name: "NonErrorThrown", message: `a non-Error value was thrown: ${text}`, stack: text };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Structured-clone bytes of a task's value, or an error saying what could not be cloned
 * (functions, symbols, class instances with private state...).
 */
export function serializeValue(value: unknown): { ok: true; bytes: Uint8Array } | { ok: false; error: RemoteErrorInfo } {
  try {
    return { ok: true, bytes: serialize(value) };
  } catch (error) {
    const kind = value === null ? "null" : typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
    return {
      ok: false,
      error: {
        name: "DataCloneError",
        message: `the task's result (${kind}) cannot be sent back: ${error instanceof Error ? error.message : String(error)}. Return plain data: numbers, strings, arrays, objects, typed arrays, Maps`,
        stack: error instanceof Error ? (error.stack ?? "") : "",
        code: "ERR_RESULT_NOT_CLONEABLE",
      },
    };
  }
}
