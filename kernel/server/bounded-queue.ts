/**
 * A FIFO with a capacity: `put` waits while it is full, `take` waits while it is empty. `close()`
 * releases every waiter (`take` then yields undefined, `put` drops its item). Items still queued are
 * visible through {@link pending}, which is what makes "already queued" well defined.
 */
export class BoundedQueue<T> {
  readonly #capacity: number;
  #items: T[] = [];
  #takers: Array<(item: T | undefined) => void> = [];
  #putters: Array<() => void> = [];
  #closed = false;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  /** The queued items, oldest first (a live view: do not hold on to it). */
  pending(): readonly T[] {
    return this.#items;
  }

  /** Adds an item, waiting for space while the queue is full; false if the queue closed first. */
  async put(item: T): Promise<boolean> {
    while (!this.#closed && this.#items.length >= this.#capacity) {
      await new Promise<void>((resolve) => this.#putters.push(resolve));
    }
    if (this.#closed) return false;
    const taker = this.#takers.shift();
    if (taker !== undefined) taker(item);
    else this.#items.push(item);
    return true;
  }

  /** The oldest item, waiting while the queue is empty; undefined once closed. */
  take(): Promise<T | undefined> {
    const item = this.#items.shift();
    if (item !== undefined) {
      this.#putters.shift()?.();
      return Promise.resolve(item);
    }
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#takers.push(resolve));
  }

  /** Releases all waiters and drops queued items. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const taker of this.#takers.splice(0)) taker(undefined);
    for (const putter of this.#putters.splice(0)) putter();
    this.#items = [];
  }
}
