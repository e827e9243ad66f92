/**
 * Collects the language worker's garbage once it has been idle for a while. Every request builds a
 * new TypeScript program and type checker (several MiB each), and V8 grows a heap this busy up to
 * a multiple of what is live before it compacts: after 200 checks of a 400-cell notebook the worker
 * held ~260 MiB of heap for ~80 MiB live, and V8 never shrank it while idle. A full collection
 * once the requests stop gives that memory back.
 *
 * The collector is reached the way `--expose-gc` would expose it, but only in a throwaway context
 * of this thread: the flag is process-wide, so it is set and cleared around that one context, and
 * no other context (the cell worker's, a cell's `vm.createContext()`) ever sees a `gc` global.
 */
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** This isolate's full garbage collection, or undefined where V8 refused the flag. */
function exposeCollector(): (() => void) | undefined {
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? () => void gc() : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
}

/** Calls V8's collector when {@link touch} has not been called for `idleMs`, or the heap doubled. */
export class IdleCollector {
  readonly #idleMs: number;
  readonly #collect: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Heap in use after the last collection (the live size, roughly). */
  #usedAfterCollection = 0;

  constructor(idleMs: number) {
    this.#idleMs = idleMs;
    this.#collect = exposeCollector();
  }

  /** Work happened: collect once it has been quiet for `idleMs`, or now if the heap doubled. */
  touch(): void {
    if (this.#collect === undefined) return;
    clearTimeout(this.#timer);
    if (this.#usedAfterCollection > 0 && getHeapStatistics().used_heap_size > 2 * this.#usedAfterCollection) {
      this.collectNow();
      return;
    }
    this.#timer = setTimeout(() => this.collectNow(), this.#idleMs);
    this.#timer.unref();
  }

  /** Collects now (e.g. after start-up, to learn the live size the doubling rule compares with). */
  collectNow(): void {
    this.#collect?.();
    this.#usedAfterCollection = getHeapStatistics().used_heap_size;
  }
}
