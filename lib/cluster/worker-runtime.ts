/**
 * Entry point of a worker process's execution thread: loads tfjs with the best backend it can,
 * then runs the owner's tasks (functions and `%%workers` cells) one at a time in this thread's
 * global scope, so declarations persist across cells as on the notebook's own kernel. The
 * supervisor (main thread) relays messages and interrupts this thread through the inspector.
 */
import { parentPort, workerData } from "node:worker_threads";
import { join } from "node:path";
import { deserialize } from "node:v8";
import vm from "node:vm";
import { selectBackend, type BackendChoice } from "../backend/select-backend.js";
import { RingbookError } from "../errors.js";
import { compileCell, runCompiledCell } from "../script/index.js";
import type { TaskSpec } from "./messages.js";
import { OutputRelay } from "./output-relay.js";
import { serializeValue, TaskRunner, toRemoteError, type TaskOutcome } from "./task-runner.js";
import { interruptProbeKey, type FromExecution, type ToExecution } from "./thread-protocol.js";
import type { WorkerBootstrap } from "./worker-bootstrap.js";

if (!parentPort) throw new RingbookError("ERR_WORKER_THREAD", "worker-runtime.js must run in the worker process's execution thread");
const port = parentPort;
// Parsed by the supervisor before it started this thread.
const bootstrap = workerData as WorkerBootstrap;
const startedAt = performance.now();

const originalSetImmediate = setImmediate;
const post = (message: FromExecution, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
const relay = new OutputRelay(post, (callback) => originalSetImmediate(callback));
relay.install();
const runner = new TaskRunner(originalSetImmediate, (taskId) => {
  if (taskId !== null) relay.taskId = taskId;
});

process.on("uncaughtException", (error) => relay.write("stderr", `[uncaught] ${error.stack ?? String(error)}\n`));
process.on("unhandledRejection", (reason) => relay.write("stderr", `[unhandled rejection] ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`));

/** What task code sees as its first argument, and what cells see as globals. */
interface TaskContext {
  rank: number;
  worldSize: number;
  tf: typeof import("@tensorflow/tfjs");
  args: unknown;
  backend: string;
  device: string;
}

let tfModule: typeof import("@tensorflow/tfjs");
let choice: BackendChoice;
try {
  tfModule = await import("@tensorflow/tfjs");
  choice = await selectBackend(bootstrap.backend, { gpu: bootstrap.gpu });
} catch (error) {
  relay.flush();
  post({ type: "forward", message: { type: "startFailed", error: toRemoteError(error) }, payload: null });
  // The supervisor exits the process when it sees startFailed; keep the thread alive until then.
  await new Promise(() => undefined);
  throw error;
}
relay.loaded();
let worldSize = bootstrap.worldSize;
const globals = globalThis as Record<string, unknown>;
Object.assign(globals, { rank: bootstrap.rank, worldSize, tf: tfModule, backend: choice.backend, device: choice.device });

/** Compiled task functions by source: a loop calling `run` with the same function compiles once. */
const compiledFunctions = new Map<string, (context: TaskContext) => unknown>();
const maxCompiledFunctions = 256;

function compileFunction(source: string): (context: TaskContext) => unknown {
  const cached = compiledFunctions.get(source);
  if (cached) return cached;
  const script = new vm.Script(`(${source}\n)`, {
    filename: join(bootstrap.cwd, `[rank ${bootstrap.rank}] task`),
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const value: unknown = script.runInThisContext();
  if (typeof value !== "function") throw new RingbookError("ERR_TASK_NOT_FUNCTION", `the task's source is not a function: ${source.slice(0, 80)}`);
  if (compiledFunctions.size >= maxCompiledFunctions) compiledFunctions.delete(compiledFunctions.keys().next().value as string);
  compiledFunctions.set(source, value as (context: TaskContext) => unknown);
  return value as (context: TaskContext) => unknown;
}

function startTask(task: TaskSpec, args: unknown): Promise<unknown> {
  switch (task.kind) {
    case "function": {
      const fn = compileFunction(task.source);
      const context: TaskContext = { rank: bootstrap.rank, worldSize, tf: tfModule, args, backend: choice.backend, device: choice.device };
      return Promise.resolve(fn(context));
    }
    case "cell": {
      const compiled = compileCell(task.code);
      return runCompiledCell(compiled, { filename: join(bootstrap.cwd, task.name) }).then((completion) => completion?.value);
    }
    case "train":
    case "exportModel":
      return Promise.reject(new RingbookError("ERR_TASK_KIND", `task kind ${task.kind} is not available on this worker yet`));
    default: {
      const impossible: never = task;
      return Promise.reject(new RingbookError("ERR_TASK_KIND", `unknown task ${JSON.stringify(impossible)}`));
    }
  }
}

function finishTask(taskId: string, outcome: TaskOutcome): void {
  relay.flush();
  switch (outcome.status) {
    case "ok": {
      if (outcome.value === undefined) {
        post({ type: "forward", message: { type: "result", taskId, status: "ok", hasValue: false }, payload: null });
        return;
      }
      const serialized = serializeValue(outcome.value);
      if (serialized.ok) post({ type: "forward", message: { type: "result", taskId, status: "ok", hasValue: true }, payload: serialized.bytes });
      else post({ type: "forward", message: { type: "result", taskId, status: "error", error: serialized.error }, payload: null });
      return;
    }
    case "error":
      post({ type: "forward", message: { type: "result", taskId, status: "error", error: toRemoteError(outcome.error) }, payload: null });
      return;
    case "interrupted":
      post({ type: "forward", message: { type: "result", taskId, status: "interrupted" }, payload: null });
      return;
    default: {
      const impossible: never = outcome;
      throw new RingbookError("ERR_TASK_OUTCOME", `unknown outcome ${JSON.stringify(impossible)}`);
    }
  }
}

/**
 * Called by the supervisor through the inspector (`Runtime.evaluate`), which reaches this thread
 * even inside a busy loop. The task (`null`: the running one and everything queued) is finished as
 * interrupted on the next turn of the event loop: at once when it was awaiting, after
 * `terminateExecution` when it was busy.
 */
globals[Symbol.for(interruptProbeKey) as unknown as string] = (seq: number, taskId: string | null): boolean => {
  originalSetImmediate(() => {
    runner.interrupt(taskId);
    post({ type: "interruptAck", seq });
  });
  return true;
};

port.on("message", (message: ToExecution) => {
  switch (message.type) {
    case "task": {
      const { taskId, task, payload } = message;
      runner.enqueue({
        taskId,
        start: () => startTask(task, payload === null ? undefined : deserialize(payload)),
        finish: (outcome) => finishTask(taskId, outcome),
      });
      return;
    }
    case "mesh":
      worldSize = message.worldSize;
      globals["worldSize"] = worldSize;
      // TODO(#3): bind the peer mesh here once lib/collectives lands.
      post({ type: "forward", message: { type: "meshBound", generation: message.generation, endpoint: "" }, payload: null });
      return;
    case "peers":
      post({ type: "forward", message: { type: "peersReady", generation: message.generation }, payload: null });
      return;
    case "peerDied":
    case "stopTraining":
      return;
    default: {
      const impossible: never = message;
      relay.write("stderr", `unknown message from the supervisor: ${JSON.stringify(impossible)}\n`);
    }
  }
});

post({
  type: "forward",
  message: {
    type: "ready",
    backend: choice.backend,
    device: choice.device,
    tfjsVersion: tfModule.version.tfjs ?? "unknown",
    startMs: Math.round(performance.now() - startedAt),
    notes: choice.notes,
  },
  payload: null,
});
