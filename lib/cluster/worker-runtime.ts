/**
 * Entry point of a worker process's execution thread: loads tfjs with the best backend it can,
 * then runs the owner's tasks (functions and `%%workers` cells) one at a time in this thread's
 * global scope, so declarations persist across cells as on the notebook's own kernel. The
 * supervisor (main thread) relays messages and interrupts this thread through the inspector.
 */
import { parentPort, workerData } from "node:worker_threads";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import vm from "node:vm";
import { selectBackend, type BackendChoice } from "../backend/select-backend.js";
import { RingbookError } from "../errors.js";
import { replacementsSettled } from "../io/atomic-directory.js";
import { registerFileSystemRouter } from "../io/file-system.js";
import type { Collectives } from "../collectives/index.js";
import { exportTrainedModel, runWorkerTraining } from "../training/worker-train.js";
import type { WorkerEvaluateSpec, WorkerTrainSpec } from "../training/train-spec.js";
import { evaluateOnWorker } from "../training/worker-evaluate.js";
import { ClusterSecret } from "../transport/cluster-secret.js";
import type { TaskSpec } from "./messages.js";
import { OutputRelay } from "./output-relay.js";
import { serializeValue, TaskRunner, toRemoteError, type TaskOutcome } from "./task-runner.js";
import { closeSocketsKey, interruptProbeKey, type FromExecution, type ToExecution } from "./thread-protocol.js";
import { ZapAuthenticator } from "../transport/zap-authenticator.js";
import type { WorkerBootstrap } from "./worker-bootstrap.js";
import { WorkerMesh } from "./worker-mesh.js";

if (!parentPort) throw new RingbookError("ERR_WORKER_THREAD", "worker-runtime.js must run in the worker process's execution thread");
const port = parentPort;
// Parsed by the supervisor before it started this thread.
const bootstrap = workerData as WorkerBootstrap;
const startedAt = performance.now();

const originalSetImmediate = setImmediate;
const post = (message: FromExecution, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
const relay = new OutputRelay(post, (callback) => originalSetImmediate(callback));
relay.install();
const runner = new TaskRunner(
  originalSetImmediate,
  (taskId) => {
    if (taskId !== null) relay.taskId = taskId;
  },
  { settled: replacementsSettled },
);

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
  /** allReduce, broadcast, barrier and allGather with the other ranks (throws while the cluster changes size). */
  readonly collectives: Collectives;
}

let tfModule: typeof import("@tensorflow/tfjs");
let choice: BackendChoice;
try {
  tfModule = (await import("../tfjs.cjs")).default;
  choice = await selectBackend(bootstrap.backend, { gpu: bootstrap.gpu });
  // Tasks can save and load with "file://" URLs (it defers to tfjs-node's handler where that loaded).
  registerFileSystemRouter();
} catch (error) {
  relay.flush();
  post({ type: "forward", message: { type: "startFailed", error: toRemoteError(error) }, payload: null });
  // The supervisor exits the process when it sees startFailed; keep the thread alive until then.
  await new Promise(() => undefined);
  throw error;
}
// Tasks are compiled with vm's USE_MAIN_CONTEXT_DEFAULT_LOADER so that they can import; Node warns
// that it is experimental the first time a task imports. That is ringbook's choice, not the
// task's: drop that one warning, print the others as Node would.
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  if (warning.name === "ExperimentalWarning" && warning.message.includes("USE_MAIN_CONTEXT_DEFAULT_LOADER")) return;
  process.stderr.write(`(node:${process.pid}) ${warning.name}: ${warning.message}\n`);
});
let worldSize = bootstrap.worldSize;
const globals = globalThis as Record<string, unknown>;
Object.assign(globals, { rank: bootstrap.rank, worldSize, tf: tfModule, backend: choice.backend, device: choice.device });

const mesh = new WorkerMesh({
  rank: bootstrap.rank,
  password: ClusterSecret.fromHex(bootstrap.secretHex).socketPassword,
  clusterId: bootstrap.clusterId,
  // A failed collective reaches its task as an error, and a mesh that fails between operations
  // (a rank restarted or removed) is replaced anyway: only refused intruders are worth a line.
  log: (line) => {
    if (/refus/i.test(line)) relay.write("stderr", `[mesh] ${line}\n`);
  },
});
/** Before this thread ends (a task's process.exit(), or the supervisor ending the process), no socket may stay open. */
function closeSocketsNow(): boolean {
  mesh.closeNow();
  ZapAuthenticator.closeNow();
  return true;
}
process.on("exit", closeSocketsNow);
globals[Symbol.for(closeSocketsKey) as unknown as string] = closeSocketsNow;
Object.defineProperty(globals, "collectives", { configurable: true, enumerable: false, get: () => mesh.collectives });
/** Training tasks whose owner asked them to stop. */
const stopRequests = new Set<string>();
/** Mesh changes run one after another, in the order the owner sent them. */
let meshChanges: Promise<void> = Promise.resolve();

/** The TypeScript cell compiler (sucrase: ~100 ms to load), loaded for the first `%%workers` cell rather than at start. */
let cellCompiler: Promise<typeof import("../script/index.js")> | undefined;
function loadCellCompiler(): Promise<typeof import("../script/index.js")> {
  cellCompiler ??= import("../script/index.js");
  return cellCompiler;
}

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

function startTask(taskId: string, task: TaskSpec, args: unknown): Promise<unknown> {
  switch (task.kind) {
    case "function": {
      const fn = compileFunction(task.source);
      const context: TaskContext = {
        rank: bootstrap.rank,
        worldSize,
        tf: tfModule,
        args,
        backend: choice.backend,
        device: choice.device,
        get collectives() {
          return mesh.collectives;
        },
      };
      return Promise.resolve(fn(context));
    }
    case "cell":
      return loadCellCompiler().then(async ({ compileCell, runCompiledCell }) => {
        const completion = await runCompiledCell(compileCell(task.code), { filename: join(bootstrap.cwd, task.name) });
        return completion?.value;
      });
    case "train":
      return runWorkerTraining(
        {
          rank: bootstrap.rank,
          worldSize,
          allReduceSum: (values, into) => mesh.collectives.allReduce(values, into === undefined ? { op: "sum" } : { op: "sum", into }),
          broadcast: (values, root) => mesh.collectives.broadcast(values, root),
          emit: (event) => post({ type: "forward", message: { type: "event", taskId }, payload: serialize(event) }),
          stopRequested: () => stopRequests.has(taskId),
        },
        // Signed by the owner, which built it with parseTrainOptions.
        args as WorkerTrainSpec,
      ).finally(() => stopRequests.delete(taskId));
    case "exportModel":
      return exportTrainedModel();
    case "evaluate":
      return evaluateOnWorker(
        {
          rank: bootstrap.rank,
          worldSize,
          allReduceSum: (values, into) => mesh.collectives.allReduce(values, into === undefined ? { op: "sum" } : { op: "sum", into }),
        },
        // Signed by the owner, which built it with parseEvaluateOptions.
        args as WorkerEvaluateSpec,
      );
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

function changeMesh(generation: number, change: () => Promise<void>): void {
  meshChanges = meshChanges
    .then(change)
    .catch((error: unknown) => post({ type: "forward", message: { type: "meshFailed", generation, error: toRemoteError(error) }, payload: null }));
}

port.on("message", (message: ToExecution) => {
  switch (message.type) {
    case "task": {
      const { taskId, task, payload } = message;
      runner.enqueue({
        taskId,
        start: () => startTask(taskId, task, payload === null ? undefined : deserialize(payload)),
        finish: (outcome) => finishTask(taskId, outcome),
      });
      return;
    }
    case "mesh": {
      const { generation, bindAddress } = message;
      worldSize = message.worldSize;
      globals["worldSize"] = worldSize;
      changeMesh(generation, async () => {
        const endpoint = await mesh.bind(generation, message.worldSize, bindAddress);
        post({ type: "forward", message: { type: "meshBound", generation, endpoint }, payload: null });
      });
      return;
    }
    case "peers": {
      const { generation, endpoints } = message;
      changeMesh(generation, async () => {
        await mesh.connect(generation, endpoints);
        post({ type: "forward", message: { type: "peersReady", generation }, payload: null });
      });
      return;
    }
    case "peerDied":
      mesh.peerDied(message.generation, message.rank, message.reason);
      return;
    case "stopTraining":
      stopRequests.add(message.taskId);
      return;
    case "shutdown":
      // Peers told goodbye do not take this rank's leaving for a death (bounded: a peer may be gone).
      void Promise.race([mesh.close({ leaving: true }), new Promise((resolve) => originalSetImmediate(() => setTimeout(resolve, 1000)))])
        .catch(() => undefined)
        .finally(() => post({ type: "shutdownDone" }));
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
    backendSummary: choice.summary,
    device: choice.device,
    tfjsVersion: tfModule.version.tfjs ?? "unknown",
    startMs: Math.round(performance.now() - startedAt),
    notes: choice.notes,
  },
  payload: null,
});
