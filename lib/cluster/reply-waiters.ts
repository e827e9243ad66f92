/**
 * Waits for one expected reply per worker (its `ready`, its `meshBound` of generation 3...), with
 * a deadline, failing at once when that worker dies. Replies nobody waits for are ignored.
 */
import { RingbookError } from "../errors.js";
import type { WorkerHandle } from "./worker-handle.js";

interface Waiter {
  worker: WorkerHandle;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class ReplyWaiters {
  readonly #waiters = new Map<string, Waiter>();

  static #key(worker: WorkerHandle, kind: string): string {
    return `${worker.rank}.${worker.incarnation}:${kind}`;
  }

  /** Resolves with the value given to {@link resolve} for (`worker`, `kind`). */
  wait<T>(worker: WorkerHandle, kind: string, timeoutMs: number, what: string): Promise<T> {
    const key = ReplyWaiters.#key(worker, kind);
    if (this.#waiters.has(key)) return Promise.reject(new RingbookError("ERR_DUPLICATE_WAIT", `already waiting for ${kind} from rank ${worker.rank}`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(key);
        reject(new RingbookError("ERR_WORKER_TIMEOUT", `worker rank ${worker.rank} did not ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(key);
      };
      this.#waiters.set(key, {
        worker,
        resolve: (value) => {
          done();
          resolve(value as T);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
    });
  }

  resolve(worker: WorkerHandle, kind: string, value: unknown = undefined): void {
    this.#waiters.get(ReplyWaiters.#key(worker, kind))?.resolve(value);
  }

  reject(worker: WorkerHandle, kind: string, error: Error): void {
    this.#waiters.get(ReplyWaiters.#key(worker, kind))?.reject(error);
  }

  /** Fails every wait on `worker`; true when there was one (it died while expected to answer). */
  failWorker(worker: WorkerHandle, error: Error): boolean {
    const waiting = [...this.#waiters.values()].filter((waiter) => waiter.worker === worker);
    for (const waiter of waiting) waiter.reject(error);
    return waiting.length > 0;
  }

  /** Fails every wait (the cluster closes). */
  failAll(error: Error): void {
    for (const waiter of [...this.#waiters.values()]) waiter.reject(error);
  }
}
