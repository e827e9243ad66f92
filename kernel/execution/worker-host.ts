/**
 * Owns the cell worker thread from the main thread: starts it (and a fresh one when a cell ends
 * the thread, e.g. with `process.exit()`), runs one cell at a time, relays events, and interrupts.
 * Interrupts follow lib/threads/thread-interrupter (probe, terminate only a busy thread, probe
 * again); a thread that does not recover is replaced.
 */
import { Worker } from "node:worker_threads";
import type { CellEvent, CommTarget, ExecuteOutcome, ExecuteRequest } from "./executor.js";
import { RingbookError } from "../../lib/errors.js";
import { WorkerInspector } from "../../lib/threads/worker-inspector.js";
import { ThreadInterrupter } from "../../lib/threads/thread-interrupter.js";
import { startInterruptibleThread } from "../../lib/threads/interruptible-thread-options.js";
import { inspectorCall } from "../../lib/threads/code-thread.js";
import { interruptProbeSymbolKey, parseFromWorker, type CellWorkerConfig, type FromWorker, type ToWorker, type WorkerCall } from "./worker-protocol.js";

/** How long an awaiting (not busy) worker gets to acknowledge the interrupt probe. */
const idleAckMs = 150;
/** How long the worker gets to acknowledge after a termination before it is replaced. */
const terminatedAckMs = 600;
/**
 * How long cell code's shutdown hooks may take at close (a cluster stops its workers, SIGKILL
 * after 2 s). Jupyter's clients wait 5 s for a kernel to exit after shutdown_reply, then kill it.
 */
const shutdownHooksMs = 3500;

interface Running {
  cellId: string;
  resolve: (outcome: ExecuteOutcome) => void;
}

interface LiveWorker {
  worker: Worker;
  inspector: WorkerInspector;
}

type CallValue = boolean | CommTarget[] | null;

/** The main thread's side of the cell worker. */
export class CellWorkerHost {
  readonly #config: CellWorkerConfig;
  readonly #log: (line: string) => void;
  #listener: (cellId: string, event: CellEvent) => void = () => {};
  #live: Promise<LiveWorker>;
  /** The worker #live resolved to, while it is the current one: lets execute() post at once. */
  #ready: LiveWorker | undefined;
  #running: Running | undefined;
  readonly #calls = new Map<number, { resolve: (value: CallValue) => void; reject: (error: Error) => void }>();
  readonly #interrupter: ThreadInterrupter;
  #shutdownDone: ((failures: string[]) => void) | undefined;
  /** Workers already replaced: their exit must not start yet another one. */
  readonly #retired = new WeakSet<Worker>();
  #nextCallId = 1;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(config: CellWorkerConfig, log: (line: string) => void) {
    this.#config = config;
    this.#log = log;
    this.#interrupter = new ThreadInterrupter(log);
    this.#live = this.#spawn();
    this.#watchReady();
  }

  /** Starts the worker and waits until it is ready for cells. */
  static async start(config: CellWorkerConfig, log: (line: string) => void): Promise<CellWorkerHost> {
    const host = new CellWorkerHost(config, log);
    try {
      await host.#live;
    } catch (error) {
      await host.close();
      throw error;
    }
    return host;
  }

  onEvent(listener: (cellId: string, event: CellEvent) => void): void {
    this.#listener = listener;
  }

  execute(request: ExecuteRequest): Promise<ExecuteOutcome> {
    if (this.#closed) return Promise.reject(new RingbookError("EXECUTOR_CLOSED", `cannot execute cell ${request.cellId}: the executor is closed`));
    if (this.#running) return Promise.reject(new RingbookError("EXECUTE_OVERLAP", `cell ${request.cellId} was sent while cell ${this.#running.cellId} still runs`));
    // With the worker ready, the cell is posted before this returns: the worker starts on it while
    // the caller goes on to publish busy and execute_input (a cell's critical path is ~0.6 ms).
    const ready = this.#ready;
    if (ready !== undefined) return this.#start(ready.worker, request);
    return this.#liveOrRespawn().then(({ worker }) => this.#start(worker, request));
  }

  #start(worker: Worker, request: ExecuteRequest): Promise<ExecuteOutcome> {
    return new Promise<ExecuteOutcome>((resolve) => {
      this.#running = { cellId: request.cellId, resolve };
      this.#post(worker, { type: "execute", request });
    });
  }

  /** Stops the running cell (if any); returns once its outcome is `interrupted`. */
  async interrupt(): Promise<void> {
    if (this.#closed) return;
    await this.#interruptRunning();
  }

  async #interruptRunning(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    const live = await this.#live;
    const outcome = await this.#interrupter.interrupt(live.inspector, {
      // The hooks (e.g. a cluster's interrupt of its workers) run once, with the first probe.
      probe: (seq, first) => inspectorCall(interruptProbeSymbolKey, [seq, first]),
      stillRunning: () => this.#running === running,
      onBusy: () => this.#log(`interrupt: cell ${running.cellId} is busy; terminating its execution`),
      idleAckMs,
      terminatedAckMs,
    });
    if (outcome === "stopped") return;
    this.#log(`interrupt: the worker did not recover; replacing it`);
    this.#replaceWorker(live, { status: "restarted", reason: "the interrupted cell could not be stopped; a fresh worker was started" });
  }

  provideInput(requestId: string, value: string): void {
    void this.#live.then((live) => this.#post(live.worker, { type: "input", requestId, value }));
  }

  async call(call: WorkerCall): Promise<CallValue> {
    if (this.#closed) throw new RingbookError("EXECUTOR_CLOSED", `cannot send ${call.kind}: the executor is closed`);
    const { worker } = await this.#liveOrRespawn();
    const callId = this.#nextCallId++;
    return new Promise<CallValue>((resolve, reject) => {
      this.#calls.set(callId, { resolve, reject });
      this.#post(worker, { type: "call", callId, call });
    });
  }

  /**
   * Ends the worker; a running cell is interrupted first and settles as `restarted`. Before the
   * thread ends, cell code's shutdown hooks run (open worker clusters close, so no process or
   * socket directory outlives the kernel), for at most {@link shutdownHooksMs}. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    if (this.#running) await this.#interruptRunning().catch((error: unknown) => this.#log(`close: interrupt failed: ${(error as Error).message}`));
    this.#ready = undefined;
    this.#settleRunning({ status: "restarted", reason: "the executor was closed" });
    this.#failCalls("the executor was closed");
    const live = await this.#live.catch(() => undefined);
    if (!live) return;
    await this.#runShutdownHooks(live);
    live.inspector.close();
    await live.worker.terminate();
  }

  /** Asks the thread to run its shutdown hooks and waits for them, within {@link shutdownHooksMs}. */
  async #runShutdownHooks(live: LiveWorker): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<string[] | "timeout">((resolve) => {
      this.#shutdownDone = resolve;
      timer = setTimeout(() => resolve("timeout"), shutdownHooksMs);
      live.worker.once("exit", () => resolve([]));
    });
    this.#post(live.worker, { type: "shutdown" });
    const outcome = await done;
    clearTimeout(timer);
    this.#shutdownDone = undefined;
    if (outcome === "timeout") this.#log(`close: shutdown hooks did not finish within ${shutdownHooksMs} ms; ending the thread anyway`);
    else for (const failure of outcome) this.#log(`close: shutdown hook failed: ${failure}`);
  }

  /** The live worker; if the last start failed, one more try. */
  async #liveOrRespawn(): Promise<LiveWorker> {
    try {
      return await this.#live;
    } catch (error) {
      this.#log(`cell worker unavailable (${error instanceof Error ? error.message : String(error)}); starting a fresh one`);
      this.#live = this.#spawn();
      this.#watchReady();
      return this.#live;
    }
  }

  /** Clears {@link #ready} and sets it again once the current #live resolves (if still current). */
  #watchReady(): void {
    this.#ready = undefined;
    const live = this.#live;
    live.then(
      (worker) => {
        if (this.#live === live && !this.#closed) this.#ready = worker;
      },
      () => undefined,
    );
  }

  async #spawn(): Promise<LiveWorker> {
    const worker = startInterruptibleThread(new URL("./cell-worker.js", import.meta.url), { workerData: this.#config, stdout: true, stderr: true });
    worker.stdout.on("data", (chunk: Buffer) => this.#log(`cell worker stdout: ${chunk.toString().trimEnd()}`));
    worker.stderr.on("data", (chunk: Buffer) => this.#log(`cell worker stderr: ${chunk.toString().trimEnd()}`));
    const ready = new Promise<void>((resolve, reject) => {
      worker.on("message", (raw: unknown) => {
        let message: FromWorker;
        try {
          message = parseFromWorker(raw);
        } catch (error) {
          this.#log(error instanceof Error ? error.message : String(error));
          return;
        }
        if (message.type === "ready") resolve();
        else this.#receive(message);
      });
      worker.once("exit", (code) => reject(new RingbookError("WORKER_START", `cell worker exited with code ${code} before it was ready`)));
    });
    worker.on("error", (error) => this.#log(`cell worker error: ${error.stack ?? error.message}`));
    let inspector: WorkerInspector | undefined;
    try {
      inspector = await WorkerInspector.attach(worker, { signal: AbortSignal.timeout(10_000) });
      await ready;
    } catch (error) {
      inspector?.close();
      await worker.terminate();
      throw error;
    }
    const live = { worker, inspector };
    worker.once("exit", (code) => this.#onExit(live, code));
    return live;
  }

  #onExit(live: LiveWorker, code: number): void {
    live.inspector.close();
    if (this.#closed || this.#retired.has(live.worker)) return;
    this.#log(`cell worker exited with code ${code}; starting a fresh one`);
    this.#replaceWorker(live, { status: "restarted", reason: `the cell worker exited with code ${code} (process.exit() in a cell?); its state is lost` });
  }

  #replaceWorker(old: LiveWorker, outcome: ExecuteOutcome): void {
    this.#failCalls("the cell worker was replaced");
    this.#retired.add(old.worker);
    old.inspector.close();
    void old.worker.terminate();
    const next = this.#spawn();
    this.#live = next;
    this.#watchReady();
    // Settle only when the fresh worker can take the next cell.
    next.then(
      () => this.#settleRunning(outcome),
      (error: unknown) => {
        this.#log(`could not start a fresh cell worker: ${error instanceof Error ? error.message : String(error)}`);
        this.#settleRunning(outcome);
      },
    );
  }

  #receive(message: Exclude<FromWorker, { type: "ready" }>): void {
    switch (message.type) {
      case "event":
        this.#listener(message.cellId, message.event);
        return;
      case "outcome":
        if (this.#running?.cellId === message.cellId) this.#settleRunning(message.outcome);
        return;
      case "reply": {
        const pending = this.#calls.get(message.callId);
        if (!pending) return;
        this.#calls.delete(message.callId);
        if (message.ok) pending.resolve(message.value);
        else pending.reject(new RingbookError("WORKER_CALL", message.message));
        return;
      }
      case "interruptAck":
        this.#interrupter.acknowledge(message.seq);
        return;
      case "shutdownDone":
        this.#shutdownDone?.(message.failures);
        return;
      default: {
        const never: never = message;
        throw new RingbookError("WORKER_MESSAGE", `unhandled message ${JSON.stringify(never)}`);
      }
    }
  }

  #settleRunning(outcome: ExecuteOutcome): void {
    const running = this.#running;
    if (!running) return;
    this.#running = undefined;
    running.resolve(outcome);
  }

  #failCalls(reason: string): void {
    for (const pending of this.#calls.values()) pending.reject(new RingbookError("WORKER_GONE", reason));
    this.#calls.clear();
  }

  #post(worker: Worker, message: ToWorker): void {
    worker.postMessage(message);
  }
}
