/**
 * Which cell caused the code that runs now, inside the cell worker. Node 20's AsyncLocalStorage
 * cannot be used here: it enables async_hooks, and `Runtime.terminateExecution` (our interrupt)
 * then leaves the native async-id stack unbalanced and aborts the whole process
 * (`InternalCallbackScope::Close` assertion). V8 promise hooks and wrapped timer callbacks keep the
 * context in plain JavaScript instead, which {@link CellContext.reset} can repair after a
 * termination.
 */
import v8 from "node:v8";

const contextOfPromise = Symbol("ringbook.cellContext");

type Callback = (...args: unknown[]) => unknown;

/** Tracks the current cell id across awaits, promise callbacks, timers and ticks. */
export class CellContext {
  #current: string | undefined;
  readonly #stack: Array<string | undefined> = [];
  readonly #onCallbackError: (cellId: string | undefined, error: unknown) => void;
  #stopPromiseHook: (() => void) | undefined;

  /** @param onCallbackError receives errors thrown by timer and tick callbacks, with their cell. */
  constructor(onCallbackError: (cellId: string | undefined, error: unknown) => void) {
    this.#onCallbackError = onCallbackError;
  }

  /** The cell whose code (or callbacks) runs now, if known. */
  get current(): string | undefined {
    return this.#current;
  }

  /** The cell a promise was created in. */
  static cellOf(promise: Promise<unknown>): string | undefined {
    return (promise as unknown as Record<symbol, string | undefined>)[contextOfPromise];
  }

  /** Installs the promise hook and wraps the global timer functions. */
  install(): void {
    const stop: unknown = v8.promiseHooks.createHook({
      init: (promise) => {
        // Not enumerable, so util.inspect of a promise does not show it.
        if (this.#current !== undefined) Object.defineProperty(promise, contextOfPromise, { value: this.#current });
      },
      before: (promise) => {
        this.#stack.push(this.#current);
        this.#current = (promise as unknown as Record<symbol, string | undefined>)[contextOfPromise];
      },
      after: () => {
        this.#current = this.#stack.pop();
      },
    });
    this.#stopPromiseHook = () => {
      if (typeof stop === "function") stop();
    };
    const wrap = (callback: Callback): Callback => this.bind(callback);
    const globals = globalThis as unknown as Record<string, unknown>;
    for (const name of ["setTimeout", "setInterval", "setImmediate", "queueMicrotask"]) {
      const original = globals[name] as (callback: unknown, ...rest: unknown[]) => unknown;
      const wrapped = function (this: unknown, callback: unknown, ...rest: unknown[]): unknown {
        return original.call(this, typeof callback === "function" ? wrap(callback as Callback) : callback, ...rest);
      };
      // Keep util.promisify(setTimeout) and friends working.
      Object.defineProperties(wrapped, Object.getOwnPropertyDescriptors(original));
      globals[name] = wrapped;
    }
    const nextTick = process.nextTick.bind(process);
    process.nextTick = (callback: Function, ...rest: unknown[]) => nextTick(wrap(callback as Callback), ...rest);
  }

  /** Returns a function that runs `callback` in the current cell's context. */
  bind(callback: Callback): Callback {
    const cellId = this.#current;
    if (cellId === undefined) return callback;
    const run = (thisArg: unknown, args: unknown[]): unknown => {
      const previous = this.#current;
      this.#current = cellId;
      try {
        return callback.apply(thisArg, args);
      } catch (error) {
        this.#onCallbackError(cellId, error);
        return undefined;
      } finally {
        this.#current = previous;
      }
    };
    return function (this: unknown, ...args: unknown[]) {
      return run(this, args);
    };
  }

  /** Runs `body` synchronously as cell `cellId`. */
  run<T>(cellId: string, body: () => T): T {
    const previous = this.#current;
    this.#current = cellId;
    try {
      return body();
    } finally {
      this.#current = previous;
    }
  }

  /** Forgets contexts left half-entered by a terminated execution. */
  reset(): void {
    this.#current = undefined;
    this.#stack.length = 0;
  }

  /** Removes the promise hook (the timer wrappers stay; they are cheap and harmless). */
  close(): void {
    this.#stopPromiseHook?.();
    this.#stopPromiseHook = undefined;
  }
}
