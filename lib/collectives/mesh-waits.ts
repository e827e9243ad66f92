/** Small waiting primitives for the mesh and the collectives; each leaves no timer or listener behind. */

/** Wakes everyone waiting for "something about the peers changed" (a handshake, a goodbye, a loss). */
export class MeshChanges {
  #waiters: Array<() => void> = [];

  /** Resolves at the next {@link MeshChanges.notify}. */
  next(): Promise<undefined> {
    return new Promise((resolve) => this.#waiters.push(() => resolve(undefined)));
  }

  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** `task`'s value, or `"timeout"` once `deadlineMs` (a `Date.now()` time) has passed. */
export async function untilDeadline<T>(task: Promise<T>, deadlineMs: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, deadlineMs - Date.now()));
  });
  try {
    return await Promise.race([task, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A FIFO between a collective's receive loop (which produces what to send next) and its send loop.
 * It holds at most what one operation forwards, so it is bounded by the operation's size; the
 * receive loop is never held back by it, since a ring whose every rank waited to receive until
 * its sends drained could deadlock.
 */
export class Outbox<T> {
  #items: T[] = [];
  #waiter: { resolve: (item: T | undefined) => void; reject: (error: Error) => void } | undefined;
  #ended = false;
  #error: Error | undefined;

  push(item: T): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve(item);
    } else {
      this.#items.push(item);
    }
  }

  /** No more items: a waiting or later {@link Outbox.shift} on an empty outbox gives `undefined`. */
  end(): void {
    this.#ended = true;
    this.#settle();
  }

  /** The producer failed: a waiting or later shift rejects with `error`. */
  fail(error: Error): void {
    this.#error ??= error;
    this.#settle();
  }

  /** The next item, waiting for one; `undefined` once ended and drained. */
  shift(): Promise<T | undefined> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift());
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  #settle(): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    if (this.#error !== undefined) waiter.reject(this.#error);
    else waiter.resolve(undefined);
  }
}
