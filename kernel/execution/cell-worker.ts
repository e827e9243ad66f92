/**
 * Entry point of the cell worker thread: runs cells in this thread's global scope and reports
 * their output, results and errors to the executor on the main thread, each tagged with the id of
 * the cell that caused it. The main thread interrupts it through the inspector (see worker-host).
 */
import { parentPort, workerData } from "node:worker_threads";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import { randomUUID } from "node:crypto";
import { CellSources, compileCell, compileScript, runCompiledCell, type CompileCellOptions, type CellCompletion } from "../../lib/script/index.js";
import { RingbookError } from "../../lib/errors.js";
import type { CellEvent, ExecuteOutcome, ExecuteRequest, UserExpressionResult } from "./executor.js";
import { CellContext } from "./cell-context.js";
import { Outbox, redirectOutput } from "./worker-output.js";
import { CommRegistry } from "./worker-comms.js";
import { formatError } from "./traceback.js";
import { interruptProbeSymbolKey, type CellWorkerConfig, type ToWorker, type WorkerCall } from "./worker-protocol.js";
import { transpileWithDecorators } from "./decorator-transpile.js";
import { warmUpCompiler } from "./compiler-warmup.js";
import { display, displayHostSymbol } from "../display/index.js";
import { FigureStreams, liveDisplayHost } from "../display/figure-streams.js";
import { displaySinkSymbol, type DisplaySink } from "../display/sink.js";
import { toMimeBundle } from "../display/mime-bundle.js";

if (!parentPort) throw new RingbookError("CELL_WORKER", "cell-worker.js must run in a worker thread");
const port = parentPort;
const config = workerData as CellWorkerConfig;

/** A cell whose outcome has not been posted yet. */
interface RunningCell {
  cellId: string;
  allowStdin: boolean;
}

const originalSetImmediate = setImmediate;
const originalQueueMicrotask = queueMicrotask;
const outbox = new Outbox(port, originalQueueMicrotask);
const runningCells = new Map<string, RunningCell>();
const pendingInputs = new Map<string, { resolve: (value: string) => void; reject: (error: Error) => void; cellId: string }>();
/** Output with no known cause goes to the cell that started last (e.g. native callbacks). */
let lastCellId = "";
const context = new CellContext(reportAsyncError);
context.install();

function currentCellId(): string {
  return context.current ?? lastCellId;
}

function emit(cellId: string, event: CellEvent): void {
  outbox.post({ type: "event", cellId, event });
}

redirectOutput((name, text) => outbox.stream(currentCellId(), name, text));

const sink: DisplaySink = {
  display(message) {
    const event: CellEvent = { kind: "display", data: message.data, metadata: message.metadata, update: message.update };
    if (message.displayId !== undefined) event.displayId = message.displayId;
    emit(currentCellId(), event);
  },
  clearOutput(wait) {
    emit(currentCellId(), { kind: "clearOutput", wait });
  },
};

const comms = new CommRegistry((event) => emit(currentCellId(), event));

/** Reads a line from the front end (`allow_stdin` must be true for the running cell). */
function input(prompt: string = "", options: { password?: boolean } = {}): Promise<string> {
  const cellId = currentCellId();
  const cell = runningCells.get(cellId);
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
    pendingInputs.set(requestId, { resolve, reject, cellId });
    emit(cellId, { kind: "inputRequest", requestId, prompt: String(prompt), password: options.password === true });
  });
}
input.password = (prompt: string = "") => input(prompt, { password: true });

const cellMagics = new Map<string, (args: string, body: string) => Promise<unknown>>();
const interruptHooks = new Set<() => void>();
/** Awaited before the thread ends (see lib/cluster/notebook-hooks: open clusters close here). */
const shutdownHooks = new Set<() => Promise<void> | void>();
const globals = globalThis as Record<string | symbol, unknown>;
globals[displaySinkSymbol] = sink;
globals[Symbol.for("ringbook.cellMagics")] = cellMagics;
globals[Symbol.for("ringbook.interruptHooks")] = interruptHooks;
globals[Symbol.for("ringbook.shutdownHooks")] = shutdownHooks;
globals["display"] = display;
globals[displayHostSymbol] = liveDisplayHost(new FigureStreams(comms));
globals["input"] = input;
globals["comms"] = comms;
globals["require"] = createRequire(join(config.cwd, "__ringbook_cell__.js"));

const compileOptions: CompileCellOptions = { moduleAliases: config.moduleAliases };
/** What cells ran, for tracebacks with their TypeScript lines and columns. */
const cellSources = new CellSources();
if (config.jsx) compileOptions.jsx = config.jsx;
if (config.experimentalDecorators) {
  compileOptions.fallbackTranspile = (source) => transpileWithDecorators(source, config.emitDecoratorMetadata);
}

// Node's default warning printer would write to stderr from no cell; print warnings to the cell.
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  if (warning.name === "ExperimentalWarning" && warning.message.includes("USE_MAIN_CONTEXT_DEFAULT_LOADER")) return;
  outbox.stream(currentCellId(), "stderr", `${warning.name}: ${warning.message}\n`);
});
process.on("uncaughtException", (error) => reportAsyncError(context.current, error));
process.on("unhandledRejection", (reason, promise) => reportAsyncError(CellContext.cellOf(promise), reason));

/** An error thrown by a callback or an unhandled rejection: fails its cell if still running. */
function reportAsyncError(cellId: string | undefined, error: unknown): void {
  const owner = cellId ?? lastCellId;
  const formatted = formatError(error, "cell", cellSources);
  if (runningCells.has(owner)) {
    finishCell(owner, { status: "error", ...formatted });
  } else {
    emit(owner, { kind: "lateError", ...formatted });
  }
}

function finishCell(cellId: string, outcome: ExecuteOutcome): void {
  if (!runningCells.delete(cellId)) return;
  for (const [requestId, pending] of pendingInputs) {
    if (pending.cellId !== cellId) continue;
    pendingInputs.delete(requestId);
    pending.reject(new RingbookError("STDIN_ABANDONED", `input request ${requestId} was abandoned: its cell finished (${outcome.status})`));
  }
  outbox.post({ type: "outcome", cellId, outcome });
}

function cellFilename(executionCount: number): string {
  return join(config.cwd, `In[${executionCount}]`);
}

function startCell(code: string, filename: string): Promise<CellCompletion> {
  const magic = /^%%([A-Za-z_][\w-]*)[ \t]*(.*)(?:\r?\n([\s\S]*))?$/.exec(code.replace(/^\s*\n/, ""));
  if (magic) {
    const [, name = "", args = "", body = ""] = magic;
    const handler = cellMagics.get(name);
    if (!handler) {
      const known = [...cellMagics.keys()].map((key) => `%%${key}`).join(", ") || "none";
      return Promise.reject(new RingbookError("UNKNOWN_MAGIC", `unknown cell magic %%${name} (registered: ${known})`));
    }
    return Promise.resolve(handler(args.trim(), body)).then((value) => ({ value }));
  }
  const compiled = compileCell(code, compileOptions);
  cellSources.record(basename(filename), code, compileOptions);
  return runCompiledCell(compiled, { filename });
}

async function execute(request: ExecuteRequest): Promise<void> {
  const { cellId } = request;
  lastCellId = cellId;
  runningCells.set(cellId, { cellId, allowStdin: request.allowStdin });
  const cellName = `In[${request.executionCount}]`;
  let outcome: ExecuteOutcome;
  try {
    const completion = await context.run(cellId, () => startCell(request.code, cellFilename(request.executionCount)));
    const userExpressions: Record<string, UserExpressionResult> = {};
    for (const [name, expression] of Object.entries(request.userExpressions)) {
      userExpressions[name] = await evaluateUserExpression(cellId, expression, request.executionCount);
    }
    outcome = { status: "ok", userExpressions };
    if (completion !== undefined && completion.value !== undefined && !request.silent) {
      outcome.result = context.run(cellId, () => toMimeBundle(completion.value));
    }
  } catch (error) {
    outcome = { status: "error", ...formatError(error, cellName, cellSources) };
  }
  finishCell(cellId, outcome);
}

async function evaluateUserExpression(cellId: string, expression: string, executionCount: number): Promise<UserExpressionResult> {
  try {
    const completion = await context.run(cellId, () => runCompiledCell(compileCell(expression, compileOptions), { filename: cellFilename(executionCount) }));
    const { data, metadata } = toMimeBundle(completion?.value);
    return { status: "ok", data, metadata };
  } catch (error) {
    return { status: "error", ...formatError(error, `In[${executionCount}]`, cellSources) };
  }
}

function answerCall(call: WorkerCall): boolean | ReturnType<CommRegistry["info"]> | null {
  switch (call.kind) {
    case "commOpen":
      return comms.handleOpen(call.commId, call.targetName, call.data, call.metadata);
    case "commMsg":
      comms.handleMsg(call.commId, call.data, call.metadata);
      return null;
    case "commClose":
      comms.handleClose(call.commId, call.data, call.metadata);
      return null;
    case "commInfo":
      return comms.info(call.targetName);
    default: {
      const never: never = call;
      throw new RingbookError("WORKER_CALL", `unknown call ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Called by the main thread through the inspector (`Runtime.evaluate`), which runs it even while a
 * cell busy-loops. It runs the interrupt hooks (once per interrupt), then, when the event loop
 * turns (at once for an awaiting cell; after `terminateExecution` for a busy one), finishes the
 * running cells as interrupted and acknowledges.
 */
globals[Symbol.for(interruptProbeSymbolKey)] = (seq: number, runHooks: boolean): boolean => {
  if (runHooks) {
    for (const hook of interruptHooks) {
      try {
        hook();
      } catch (error) {
        outbox.stream(lastCellId, "stderr", `interrupt hook failed: ${formatError(error, "hook", cellSources).traceback.join("\n")}\n`);
      }
    }
  }
  originalSetImmediate(() => {
    context.reset();
    for (const cellId of [...runningCells.keys()]) finishCell(cellId, { status: "interrupted" });
    outbox.post({ type: "interruptAck", seq });
  });
  return true;
};

/** Set when the first cell arrives: the compiler warm-up stops (see compiler-warmup). */
let cellArrived = false;

port.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "execute":
      cellArrived = true;
      // execute() catches everything itself and reports through the outbox.
      void execute(message.request);
      return;
    case "input": {
      const pending = pendingInputs.get(message.requestId);
      if (!pending) return;
      pendingInputs.delete(message.requestId);
      pending.resolve(message.value);
      return;
    }
    case "call": {
      const { callId, call } = message;
      try {
        const value = context.run(lastCellId, () => answerCall(call));
        outbox.post({ type: "reply", callId, ok: true, value });
      } catch (error) {
        outbox.post({ type: "reply", callId, ok: false, message: formatError(error, "comm", cellSources).traceback.join("\n") });
      }
      return;
    }
    case "shutdown":
      void runShutdownHooks();
      return;
    default: {
      const never: never = message;
      throw new RingbookError("WORKER_MESSAGE", `unknown message ${JSON.stringify(never)}`);
    }
  }
});
outbox.post({ type: "ready" });

/**
 * Runs every shutdown hook (all at once; each one's failure is only logged: the others must still
 * run), then tells the main thread it may end this thread.
 */
async function runShutdownHooks(): Promise<void> {
  const hooks = [...shutdownHooks];
  shutdownHooks.clear();
  const results = await Promise.allSettled(hooks.map(async (hook) => hook()));
  const failures = results.flatMap((result) => (result.status === "rejected" ? [formatError(result.reason, "shutdown hook", cellSources).traceback.join("\n")] : []));
  outbox.post({ type: "shutdownDone", failures });
}

// Never the TypeScript fallback here: a sample sucrase rejects must not load the compiler.
const warmupOptions: CompileCellOptions = { moduleAliases: config.moduleAliases };
if (config.jsx) warmupOptions.jsx = config.jsx;
const warmupFilename = join(config.cwd, "__ringbook_warmup__");
void warmUpCompiler({
  compile: (source) => void compileScript(compileCell(source, warmupOptions), { filename: warmupFilename }),
  format: (value) => void toMimeBundle(value),
  shouldStop: () => cellArrived,
  schedule: (next) => originalSetImmediate(next),
});
