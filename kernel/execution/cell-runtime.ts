/**
 * What the cell thread does: runs cells in its thread's global scope and reports their output,
 * results and errors to the executor on the main thread over `port`, each tagged with the id of
 * the cell that caused it. It installs the notebook host (lib/notebook-host.ts) and the cells'
 * globals (`display`, `input`, `comms`, `require`); the main thread interrupts it through the
 * inspector (see worker-host). Built from the parsed configuration and a port, so a test can run
 * one in its own thread over a `MessageChannel`; {@link CellRuntime.close} undoes what
 * {@link CellRuntime.start} installed.
 */
import type { MessagePort } from "node:worker_threads";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import { randomUUID } from "node:crypto";
import { threadCellSources, compileCell, compileScript, runCompiledCell, type CompileCellOptions, type CellCompletion } from "../../lib/script/index.js";
import { RingbookError } from "../../lib/errors.js";
import { installNotebookHost, type CellMagic, type DisplaySink } from "../../lib/notebook-host.js";
import { setUpCodeThread } from "../../lib/threads/code-thread.js";
import type { CellEvent, ExecuteOutcome, ExecuteRequest, UserExpressionResult } from "./executor.js";
import { CellContext } from "./cell-context.js";
import { Outbox, redirectOutput } from "./worker-output.js";
import { CommRegistry } from "./worker-comms.js";
import { formatError } from "./traceback.js";
import { interruptProbeSymbolKey, parseToWorker, type CellWorkerConfig, type ToWorker, type WorkerCall } from "./worker-protocol.js";
import { transpileWithDecorators } from "./decorator-transpile.js";
import { warmUpCompiler } from "./compiler-warmup.js";
import { display } from "../display/index.js";
import { FigureStreams, liveDisplayHost } from "../display/figure-streams.js";
import { toMimeBundle } from "../display/mime-bundle.js";

/** A cell whose outcome has not been posted yet. */
interface RunningCell {
  cellId: string;
  allowStdin: boolean;
}

/** An `input()` waiting for the front end's answer. */
interface PendingInput {
  resolve: (value: string) => void;
  reject: (error: Error) => void;
  cellId: string;
}

/** The `input` global of cells. */
type InputFunction = ((prompt?: string, options?: { password?: boolean }) => Promise<string>) & { password(prompt?: string): Promise<string> };

/** The globals cells see besides their own declarations. */
const cellGlobalNames = ["display", "input", "comms", "require"] as const;

/** What cells ran (and `%%workers` cells a cluster sent), for tracebacks with their TypeScript lines and columns. */
const cellSources = threadCellSources;

/** The cell thread's runtime. */
export class CellRuntime {
  readonly #config: CellWorkerConfig;
  readonly #port: MessagePort;
  // The thread's own, taken before cells can replace the globals (and before the cell context wraps them).
  readonly #setImmediate = setImmediate;
  readonly #outbox: Outbox;
  readonly #context: CellContext;
  readonly #comms: CommRegistry;
  readonly #runningCells = new Map<string, RunningCell>();
  readonly #pendingInputs = new Map<string, PendingInput>();
  readonly #cellMagics = new Map<string, CellMagic>();
  readonly #interruptHooks = new Set<() => void>();
  /** Awaited before the thread ends (see lib/cluster/notebook-hooks: open clusters close here). */
  readonly #shutdownHooks = new Set<() => Promise<void> | void>();
  readonly #compileOptions: CompileCellOptions;
  /** What start() installed, undone in reverse order by close(). */
  readonly #teardown: Array<() => void> = [];
  /** Output with no known cause goes to the cell that started last (e.g. native callbacks). */
  #lastCellId = "";
  /** Set when the first cell arrives (the compiler warm-up stops, see compiler-warmup) or at close. */
  #cellArrived = false;
  #started = false;
  #closed = false;

  constructor(config: CellWorkerConfig, port: MessagePort) {
    this.#config = config;
    this.#port = port;
    this.#outbox = new Outbox(port, queueMicrotask);
    this.#context = new CellContext((cellId, error) => this.#reportAsyncError(cellId, error));
    this.#comms = new CommRegistry((event) => this.#emit(this.#currentCellId(), event));
    this.#compileOptions = { moduleAliases: config.moduleAliases };
    if (config.jsx) this.#compileOptions.jsx = config.jsx;
    if (config.experimentalDecorators) {
      this.#compileOptions.fallbackTranspile = (source) => transpileWithDecorators(source, config.emitDecoratorMetadata);
    }
  }

  /**
   * Installs the cell context, output redirection, the notebook host, the cells' globals, the
   * warning filter and the interrupt probe; listens on the port, says `ready`, and warms the
   * compiler up until the first cell arrives.
   */
  start(): void {
    if (this.#started) throw new RingbookError("CELL_RUNTIME", "the cell runtime was already started");
    this.#started = true;
    this.#context.install();
    this.#teardown.push(() => this.#context.close());
    this.#teardown.push(redirectOutput((name, text) => this.#outbox.stream(this.#currentCellId(), name, text)));
    this.#teardown.push(
      installNotebookHost({
        displays: this.#displays(),
        liveFigures: liveDisplayHost(new FigureStreams(this.#comms)),
        comms: this.#comms,
        cellMagics: this.#cellMagics,
        interruptHooks: this.#interruptHooks,
        shutdownHooks: this.#shutdownHooks,
      }),
    );
    const cellGlobals: Record<(typeof cellGlobalNames)[number], unknown> = {
      display,
      input: this.#inputFunction(),
      comms: this.#comms,
      require: createRequire(join(this.#config.cwd, "__ringbook_cell__.js")),
    };
    for (const name of cellGlobalNames) Reflect.set(globalThis, name, cellGlobals[name]);
    this.#teardown.push(() => {
      for (const name of cellGlobalNames) Reflect.deleteProperty(globalThis, name);
    });
    this.#teardown.push(
      setUpCodeThread({
        // Node's default printer would write to stderr from no cell; print warnings to the cell.
        printWarning: (warning) => this.#outbox.stream(this.#currentCellId(), "stderr", `${warning.name}: ${warning.message}\n`),
        inspectorEntries: { [interruptProbeSymbolKey]: (seq: number, runHooks: boolean) => this.#interruptProbe(seq, runHooks) },
      }),
    );
    const onUncaught = (error: Error): void => this.#reportAsyncError(this.#context.current, error);
    const onUnhandled = (reason: unknown, promise: Promise<unknown>): void => this.#reportAsyncError(CellContext.cellOf(promise), reason);
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUnhandled);
    this.#teardown.push(() => {
      process.off("uncaughtException", onUncaught);
      process.off("unhandledRejection", onUnhandled);
    });
    const onMessage = (message: unknown): void => this.#receive(parseToWorker(message));
    this.#port.on("message", onMessage);
    this.#teardown.push(() => this.#port.off("message", onMessage));
    this.#outbox.post({ type: "ready" });
    this.#warmUp();
  }

  /** Undoes what {@link start} installed (for a runtime a test ran in its own thread). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cellArrived = true;
    this.#outbox.flush();
    for (const undo of this.#teardown.splice(0).reverse()) undo();
  }

  #currentCellId(): string {
    return this.#context.current ?? this.#lastCellId;
  }

  #emit(cellId: string, event: CellEvent): void {
    this.#outbox.post({ type: "event", cellId, event });
  }

  #displays(): DisplaySink {
    return {
      display: (message) => {
        const event: CellEvent = { kind: "display", data: message.data, metadata: message.metadata, update: message.update };
        if (message.displayId !== undefined) event.displayId = message.displayId;
        this.#emit(this.#currentCellId(), event);
      },
      clearOutput: (wait) => this.#emit(this.#currentCellId(), { kind: "clearOutput", wait }),
    };
  }

  /** The `input` global: reads a line from the front end (`allow_stdin` must be true for the running cell). */
  #inputFunction(): InputFunction {
    const input = (prompt: string = "", options: { password?: boolean } = {}): Promise<string> => {
      const cellId = this.#currentCellId();
      const cell = this.#runningCells.get(cellId);
      if (!cell) {
        return Promise.reject(new RingbookError("STDIN_NO_CELL", `input(${JSON.stringify(prompt)}) was called after its cell finished; input needs a running cell`));
      }
      if (!cell.allowStdin) {
        return Promise.reject(
          new RingbookError("STDIN_NOT_ALLOWED", `input(${JSON.stringify(prompt)}) is not possible: the front end does not accept input for this execution (allow_stdin is false)`),
        );
      }
      const requestId = randomUUID();
      return new Promise<string>((resolve, reject) => {
        this.#pendingInputs.set(requestId, { resolve, reject, cellId });
        this.#emit(cellId, { kind: "inputRequest", requestId, prompt: String(prompt), password: options.password === true });
      });
    };
    return Object.assign(input, { password: (prompt: string = "") => input(prompt, { password: true }) });
  }

  /** An error thrown by a callback or an unhandled rejection: fails its cell if still running. */
  #reportAsyncError(cellId: string | undefined, error: unknown): void {
    const owner = cellId ?? this.#lastCellId;
    const formatted = formatError(error, "cell", cellSources);
    if (this.#runningCells.has(owner)) {
      this.#finishCell(owner, { status: "error", ...formatted });
    } else {
      this.#emit(owner, { kind: "lateError", ...formatted });
    }
  }

  #finishCell(cellId: string, outcome: ExecuteOutcome): void {
    if (!this.#runningCells.delete(cellId)) return;
    for (const [requestId, pending] of this.#pendingInputs) {
      if (pending.cellId !== cellId) continue;
      this.#pendingInputs.delete(requestId);
      pending.reject(new RingbookError("STDIN_ABANDONED", `input request ${requestId} was abandoned: its cell finished (${outcome.status})`));
    }
    this.#outbox.post({ type: "outcome", cellId, outcome });
  }

  #cellFilename(executionCount: number): string {
    return join(this.#config.cwd, `In[${executionCount}]`);
  }

  #startCell(code: string, filename: string): Promise<CellCompletion> {
    const magic = /^%%([A-Za-z_][\w-]*)[ \t]*(.*)(?:\r?\n([\s\S]*))?$/.exec(code.replace(/^\s*\n/, ""));
    if (magic) {
      const [, name = "", args = "", body = ""] = magic;
      const handler = this.#cellMagics.get(name);
      if (!handler) {
        const known = [...this.#cellMagics.keys()].map((key) => `%%${key}`).join(", ") || "none";
        return Promise.reject(new RingbookError("UNKNOWN_MAGIC", `unknown cell magic %%${name} (registered: ${known})`));
      }
      return Promise.resolve(handler(args.trim(), body)).then((value) => ({ value }));
    }
    const compiled = compileCell(code, this.#compileOptions);
    cellSources.record(basename(filename), code, this.#compileOptions);
    return runCompiledCell(compiled, { filename });
  }

  async #execute(request: ExecuteRequest): Promise<void> {
    const { cellId } = request;
    this.#lastCellId = cellId;
    this.#runningCells.set(cellId, { cellId, allowStdin: request.allowStdin });
    const cellName = `In[${request.executionCount}]`;
    let outcome: ExecuteOutcome;
    try {
      const completion = await this.#context.run(cellId, () => this.#startCell(request.code, this.#cellFilename(request.executionCount)));
      const userExpressions: Record<string, UserExpressionResult> = {};
      for (const [name, expression] of Object.entries(request.userExpressions)) {
        userExpressions[name] = await this.#evaluateUserExpression(cellId, expression, request.executionCount);
      }
      outcome = { status: "ok", userExpressions };
      if (completion !== undefined && completion.value !== undefined && !request.silent) {
        outcome.result = this.#context.run(cellId, () => toMimeBundle(completion.value));
      }
    } catch (error) {
      outcome = { status: "error", ...formatError(error, cellName, cellSources) };
    }
    this.#finishCell(cellId, outcome);
  }

  async #evaluateUserExpression(cellId: string, expression: string, executionCount: number): Promise<UserExpressionResult> {
    try {
      const completion = await this.#context.run(cellId, () => runCompiledCell(compileCell(expression, this.#compileOptions), { filename: this.#cellFilename(executionCount) }));
      const { data, metadata } = toMimeBundle(completion?.value);
      return { status: "ok", data, metadata };
    } catch (error) {
      return { status: "error", ...formatError(error, `In[${executionCount}]`, cellSources) };
    }
  }

  #answerCall(call: WorkerCall): boolean | ReturnType<CommRegistry["info"]> | null {
    switch (call.kind) {
      case "commOpen":
        return this.#comms.handleOpen(call.commId, call.targetName, call.data, call.metadata);
      case "commMsg":
        this.#comms.handleMsg(call.commId, call.data, call.metadata);
        return null;
      case "commClose":
        this.#comms.handleClose(call.commId, call.data, call.metadata);
        return null;
      case "commInfo":
        return this.#comms.info(call.targetName);
      default: {
        const never: never = call;
        throw new RingbookError("WORKER_CALL", `unknown call ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Called by the main thread through the inspector (`Runtime.evaluate`), which runs it even while
   * a cell busy-loops. It runs the interrupt hooks (once per interrupt), then, when the event loop
   * turns (at once for an awaiting cell; after `terminateExecution` for a busy one), finishes the
   * running cells as interrupted and acknowledges.
   */
  #interruptProbe(seq: number, runHooks: boolean): boolean {
    if (runHooks) {
      for (const hook of this.#interruptHooks) {
        try {
          hook();
        } catch (error) {
          this.#outbox.stream(this.#lastCellId, "stderr", `interrupt hook failed: ${formatError(error, "hook", cellSources).traceback.join("\n")}\n`);
        }
      }
    }
    this.#setImmediate(() => {
      this.#context.reset();
      for (const cellId of [...this.#runningCells.keys()]) this.#finishCell(cellId, { status: "interrupted" });
      this.#outbox.post({ type: "interruptAck", seq });
    });
    return true;
  }

  #receive(message: ToWorker): void {
    switch (message.type) {
      case "execute":
        this.#cellArrived = true;
        // #execute() catches everything itself and reports through the outbox.
        void this.#execute(message.request);
        return;
      case "input": {
        const pending = this.#pendingInputs.get(message.requestId);
        if (!pending) return;
        this.#pendingInputs.delete(message.requestId);
        pending.resolve(message.value);
        return;
      }
      case "call": {
        const { callId, call } = message;
        try {
          const value = this.#context.run(this.#lastCellId, () => this.#answerCall(call));
          this.#outbox.post({ type: "reply", callId, ok: true, value });
        } catch (error) {
          this.#outbox.post({ type: "reply", callId, ok: false, message: formatError(error, "comm", cellSources).traceback.join("\n") });
        }
        return;
      }
      case "shutdown":
        // #runShutdownHooks() never rejects: every hook's failure is collected.
        void this.#runShutdownHooks();
        return;
      default: {
        const never: never = message;
        throw new RingbookError("WORKER_MESSAGE", `unknown message ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Runs every shutdown hook (all at once; each one's failure is only logged: the others must still
   * run), then tells the main thread it may end this thread.
   */
  async #runShutdownHooks(): Promise<void> {
    const hooks = [...this.#shutdownHooks];
    this.#shutdownHooks.clear();
    const results = await Promise.allSettled(hooks.map(async (hook) => hook()));
    const failures = results.flatMap((result) => (result.status === "rejected" ? [formatError(result.reason, "shutdown hook", cellSources).traceback.join("\n")] : []));
    this.#outbox.post({ type: "shutdownDone", failures });
  }

  #warmUp(): void {
    // Never the TypeScript fallback here: a sample sucrase rejects must not load the compiler.
    const warmupOptions: CompileCellOptions = { moduleAliases: this.#config.moduleAliases };
    if (this.#config.jsx) warmupOptions.jsx = this.#config.jsx;
    const warmupFilename = join(this.#config.cwd, "__ringbook_warmup__");
    void warmUpCompiler({
      compile: (source) => void compileScript(compileCell(source, warmupOptions), { filename: warmupFilename }),
      format: (value) => void toMimeBundle(value),
      shouldStop: () => this.#cellArrived,
      schedule: (next) => this.#setImmediate(next),
    });
  }
}
