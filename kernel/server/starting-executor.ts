import { RingbookError } from "../../lib/errors.js";
import type { CommTarget, CompleteResult, ExecuteOutcome, ExecuteRequest, Executor, InspectResult, IsCompleteResult, CellEvent } from "../execution/executor.js";

/**
 * An {@link Executor} that starts on demand, once the kernel can be reached: calls made before
 * wait for the start and are then forwarded. The kernel binds its sockets and answers kernel_info
 * first, then {@link begin} starts the executor (the cell worker boots on its own thread). A
 * failed start fails each call with the start's error (an execute_request then gets an error
 * reply), and the owner learns of it through {@link started}.
 *
 * @example
 * const executor = new StartingExecutor(() => startExecutor(options));
 * const kernel = await startKernel({ connection, executor, ... });
 * executor.begin();
 * await executor.started; // rejects if the executor could not start
 */
export class StartingExecutor implements Executor {
  readonly #starting: Promise<Executor>;
  #begin: () => void = () => {};
  #cancel: (reason: Error) => void = () => {};
  #started: Executor | undefined;
  #listener: ((cellId: string, event: CellEvent) => void) | undefined;
  #closed: Promise<void> | undefined;

  /** @param start called once, by {@link begin}. */
  constructor(start: () => Promise<Executor>) {
    const begun = new Promise<void>((resolve, reject) => {
      this.#begin = resolve;
      this.#cancel = reject;
    });
    this.#starting = begun.then(start).then((executor) => {
      this.#started = executor;
      if (this.#listener !== undefined) executor.onEvent(this.#listener);
      return executor;
    });
    // Observed here: callers learn of a failed start from their calls or from `started`.
    this.#starting.catch(() => undefined);
  }

  /** Starts the executor; later calls do nothing. */
  begin(): void {
    this.#begin();
  }

  /** Resolves once the executor runs; rejects with the start's error. */
  get started(): Promise<void> {
    return this.#starting.then(() => undefined);
  }

  onEvent(listener: (cellId: string, event: CellEvent) => void): void {
    this.#listener = listener;
    this.#started?.onEvent(listener);
  }

  execute(request: ExecuteRequest): Promise<ExecuteOutcome> {
    // Forwarded synchronously once started, so the executor can hand the cell on at once.
    if (this.#started !== undefined) return this.#started.execute(request);
    return this.#starting.then((executor) => executor.execute(request));
  }

  async interrupt(): Promise<void> {
    // Nothing runs before the executor has started: there is nothing to interrupt.
    await this.#started?.interrupt();
  }

  async complete(code: string, cursorPos: number): Promise<CompleteResult> {
    return (await this.#starting).complete(code, cursorPos);
  }

  async inspect(code: string, cursorPos: number, detailLevel: 0 | 1): Promise<InspectResult> {
    return (await this.#starting).inspect(code, cursorPos, detailLevel);
  }

  async isComplete(code: string): Promise<IsCompleteResult> {
    return (await this.#starting).isComplete(code);
  }

  provideInput(requestId: string, value: string): void {
    // An input request can only come from a started executor, so there is one to answer it.
    this.#started?.provideInput(requestId, value);
  }

  async commOpen(commId: string, targetName: string, data: Record<string, unknown>, metadata: Record<string, unknown>): Promise<boolean> {
    return (await this.#starting).commOpen(commId, targetName, data, metadata);
  }

  async commMsg(commId: string, data: Record<string, unknown>, metadata: Record<string, unknown>): Promise<void> {
    return (await this.#starting).commMsg(commId, data, metadata);
  }

  async commClose(commId: string, data: Record<string, unknown>, metadata: Record<string, unknown>): Promise<void> {
    return (await this.#starting).commClose(commId, data, metadata);
  }

  async commInfo(targetName?: string): Promise<CommTarget[]> {
    return (await this.#starting).commInfo(targetName);
  }

  /** Waits for a begun start to settle, then closes the executor (if it started). Idempotent. */
  close(): Promise<void> {
    this.#cancel(new RingbookError("EXECUTOR_CLOSED", "the kernel closed before its executor started"));
    this.#closed ??= this.#starting.then(
      (executor) => executor.close(),
      () => undefined,
    );
    return this.#closed;
  }
}
