/**
 * The one FIFO between a producer and a consumer that run at their own pace: the kernel's shell
 * requests, a task's events, a training run's step summaries for `run.metrics`, a collective's
 * chunks waiting to be sent. What happens when the producer outruns the consumer is chosen per
 * queue and never silent: a full queue makes `put` wait (`"block"`), drops its oldest item and
 * reports it (`"drop-oldest"`), or refuses the item with an error (`"error"`).
 */
import { RingbookError } from "./errors.js";

/** What a full queue does with one more item. */
export type OverflowPolicy = "block" | "drop-oldest" | "error";

/** Told of every item a `"drop-oldest"` queue dropped. */
export interface QueueOverflow<T> {
  /** The item that was dropped to make room. */
  dropped: T;
  /** Items this queue has dropped so far, this one included. */
  droppedCount: number;
  capacity: number;
}

/** Options of {@link AsyncQueue}. */
export interface AsyncQueueOptions<T> {
  /** The most items held. @default Number.POSITIVE_INFINITY (for a queue bounded by its producer, such as one collective's chunks) */
  capacity?: number;
  /** What a full queue does with one more item. @default "block" */
  overflow?: OverflowPolicy;
  /** Called for every item a `"drop-oldest"` queue drops. */
  onOverflow?: (overflow: QueueOverflow<T>) => void;
}

/** `push` on a full queue whose policy does not drop. */
export class QueueFullError extends RingbookError {
  constructor(capacity: number, policy: OverflowPolicy) {
    super("ERR_QUEUE_FULL", `the queue is full (${capacity} items, overflow policy "${policy}")${policy === "block" ? ": use put() to wait for room" : ""}`);
  }
}

/**
 * An async FIFO with a capacity, an overflow policy, `AbortSignal`s on its waits, and an end:
 * {@link close} lets the consumer drain what is queued and then ends it; {@link fail} ends it
 * with an error at once. Items may be anything but `undefined`, which {@link take} gives once the
 * queue has ended. One consumer at a time (takes are served in order).
 *
 * @example
 * const queue = new AsyncQueue<number>({ capacity: 2, overflow: "drop-oldest", onOverflow: ({ droppedCount }) => console.warn(`${droppedCount} dropped`) });
 * queue.push(1); queue.push(2); queue.push(3); // drops 1, and says so
 * queue.close();
 * for await (const item of queue) console.log(item); // 2, 3
 */
export class AsyncQueue<T extends NonNullable<unknown>> implements AsyncIterable<T> {
  readonly #capacity: number;
  readonly #policy: OverflowPolicy;
  readonly #onOverflow: ((overflow: QueueOverflow<T>) => void) | undefined;
  #items: T[] = [];
  #takers: Array<{ resolve: (item: T | undefined) => void; reject: (error: unknown) => void }> = [];
  #putters: Array<() => void> = [];
  #closed = false;
  #error: { reason: unknown } | undefined;
  #droppedCount = 0;

  constructor(options: AsyncQueueOptions<T> = {}) {
    const capacity = options.capacity ?? Number.POSITIVE_INFINITY;
    if (capacity !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(capacity) || capacity < 1)) {
      throw new RangeError(`queue capacity must be a positive integer, got ${JSON.stringify(capacity)}`);
    }
    this.#capacity = capacity;
    this.#policy = options.overflow ?? "block";
    this.#onOverflow = options.onOverflow;
  }

  /** Items queued now. */
  get size(): number {
    return this.#items.length;
  }

  /** Items a `"drop-oldest"` queue has dropped. */
  get droppedCount(): number {
    return this.#droppedCount;
  }

  /** True once {@link close} or {@link fail} was called: no item is accepted any more. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The queued items, oldest first (a live view: do not hold on to it). */
  pending(): readonly T[] {
    return this.#items;
  }

  /**
   * Adds an item without waiting: false once the queue closed. A full queue drops its oldest
   * item (`"drop-oldest"`) or throws {@link QueueFullError} (`"error"`, and `"block"`, whose
   * producers wait with {@link put}).
   */
  push(item: T): boolean {
    if (this.#closed) return false;
    if (this.#deliver(item)) return true;
    if (this.#items.length >= this.#capacity) {
      if (this.#policy !== "drop-oldest") throw new QueueFullError(this.#capacity, this.#policy);
      const dropped = this.#items.shift();
      if (dropped !== undefined) {
        this.#droppedCount++;
        this.#onOverflow?.({ dropped, droppedCount: this.#droppedCount, capacity: this.#capacity });
      }
    }
    this.#items.push(item);
    return true;
  }

  /**
   * Adds an item, waiting for room while a `"block"` queue is full (other policies never wait);
   * false if the queue closed first. Rejects with the signal's reason when it aborts.
   */
  async put(item: T, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    while (!this.#closed && this.#policy === "block" && this.#items.length >= this.#capacity) {
      await this.#wait(this.#putters, options.signal);
    }
    return this.push(item);
  }

  /**
   * The oldest item, waiting while the queue is empty; `undefined` once it closed and drained.
   * Rejects with the error given to {@link fail}, or with the signal's reason when it aborts.
   */
  async take(options: { signal?: AbortSignal } = {}): Promise<T | undefined> {
    options.signal?.throwIfAborted();
    if (this.#error !== undefined) throw this.#error.reason;
    const item = this.#items.shift();
    if (item !== undefined) {
      this.#putters.shift()?.();
      return item;
    }
    if (this.#closed) return undefined;
    return new Promise<T | undefined>((resolve, reject) => {
      const taker = { resolve: (value: T | undefined) => settle(() => resolve(value)), reject: (error: unknown) => settle(() => reject(error)) };
      const signal = options.signal;
      const onAbort = (): void => {
        this.#takers = this.#takers.filter((waiting) => waiting !== taker);
        taker.reject(signal?.reason);
      };
      const settle = (done: () => void): void => {
        signal?.removeEventListener("abort", onAbort);
        done();
      };
      this.#takers.push(taker);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * No more items: the consumer takes what is queued, then the queue ends. With `discard`, the
   * queued items are dropped and it ends at once. Waiting producers get false. Idempotent.
   */
  close(options: { discard?: boolean } = {}): void {
    this.#closed = true;
    if (options.discard === true) this.#items = [];
    for (const putter of this.#putters.splice(0)) putter();
    if (this.#items.length === 0) for (const taker of this.#takers.splice(0)) taker.resolve(undefined);
  }

  /** The producer failed: queued items are dropped and every waiting and later take rejects with `reason`. */
  fail(reason: unknown): void {
    this.#error ??= { reason };
    for (const taker of this.#takers.splice(0)) taker.reject(this.#error.reason);
    this.close({ discard: true });
  }

  /** Takes items until the queue ends (one consumer; breaking out leaves the queue as it is). */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (let item = await this.take(); item !== undefined; item = await this.take()) yield item;
  }

  /** Hands `item` to a waiting consumer, if there is one. */
  #deliver(item: T): boolean {
    const taker = this.#takers.shift();
    if (taker === undefined) return false;
    taker.resolve(item);
    return true;
  }

  /** Waits until woken from `waiters`, or rejects when `signal` aborts (leaving no listener behind). */
  #wait(waiters: Array<() => void>, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = waiters.indexOf(wake);
        if (index >= 0) waiters.splice(index, 1);
        reject(signal?.reason);
      };
      const wake = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      waiters.push(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
