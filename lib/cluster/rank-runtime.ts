/**
 * What a worker process's execution thread does: loads tfjs with the best backend it can, then
 * runs the owner's tasks (functions, `%%workers` cells, training, evaluation, model export) one at
 * a time in this thread's global scope, so declarations persist across cells as on the notebook's
 * own kernel, and keeps the rank's peer mesh. The supervisor (main thread) relays messages over
 * `port` and interrupts this thread through the inspector. Built from the parsed bootstrap and a
 * port, so a test can run one in its own thread over a `MessageChannel`; {@link RankRuntime.close}
 * undoes what {@link RankRuntime.start} installed.
 */
import type { MessagePort } from "node:worker_threads";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import vm from "node:vm";
import { selectBackend, type BackendChoice } from "../backend/select-backend.js";
import { RingbookError } from "../errors.js";
import { replacementsSettled } from "../io/atomic-directory.js";
import { registerFileSystemRouter } from "../io/file-system.js";
import type { Collectives } from "../collectives/index.js";
import { setUpCodeThread } from "../threads/code-thread.js";
import type { AllReduceSum } from "../training/gradient-step.js";
import { ZapAuthenticator } from "../transport/zap-authenticator.js";
import type { TaskSpec } from "./messages.js";
import { taskKinds } from "./task-kinds.js";
import { OutputRelay } from "./output-relay.js";
import { ringbookIndexUrl } from "./ringbook-index-url.js";
import { serializeValue, TaskRunner, toRemoteError, type TaskOutcome } from "./task-runner.js";
import { closeSocketsKey, interruptProbeKey, parseToExecution, type FromExecution, type ToExecution } from "./thread-protocol.js";
import { linkSecurityOf, type WorkerBootstrap } from "./worker-bootstrap.js";
import { WorkerMesh } from "./worker-mesh.js";

type Tfjs = typeof import("@tensorflow/tfjs");

/**
 * The TypeScript cell compiler (sucrase: ~100 ms to load), with what imports in `%%workers` cells
 * and tasks resolve to besides the notebook folder's packages: `ringbook`, and tfjs where that
 * folder has none (see bundled-packages.ts).
 */
interface CellCompiler {
  readonly script: typeof import("../script/index.js");
  readonly aliases: Readonly<Record<string, string>>;
}

/** The training tasks' modules (about 30 of the execution thread's 110): not needed to be ready. */
type TrainingModules = [typeof import("../training/worker-train.js"), typeof import("../training/worker-evaluate.js")];

/** What task code sees as its first argument, and what cells see as globals. */
interface TaskContext {
  rank: number;
  worldSize: number;
  tf: Tfjs;
  args: unknown;
  backend: string;
  device: string;
  /** allReduce, broadcast, barrier and allGather with the other ranks (throws while the cluster changes size). */
  readonly collectives: Collectives;
}

/** What start() loaded: tfjs, its backend, and the mesh to the other ranks. */
interface Loaded {
  tf: Tfjs;
  choice: BackendChoice;
  mesh: WorkerMesh;
}

/** Globals `%%workers` cells see (besides `collectives`, a getter: the mesh changes). */
const rankGlobalNames = ["rank", "worldSize", "tf", "backend", "device", "collectives"] as const;

/** Compiled task functions kept at most (a loop calling `run` with the same function compiles once). */
const maxCompiledFunctions = 256;

/**
 * The cluster's sum across ranks for training and evaluation. A world of one sums nothing: the
 * values are their own sum, as in trainSingleProcess (a copy of the gradients through the mesh
 * every step was part of what made one worker slower than training in-process).
 */
function allReduceSumOf(mesh: WorkerMesh, worldSize: number): AllReduceSum {
  if (worldSize === 1) return async (values) => values;
  return (values, into) => mesh.collectives.allReduce(values, into === undefined ? { op: "sum" } : { op: "sum", into });
}

/** One rank's execution thread. */
export class RankRuntime {
  readonly #bootstrap: WorkerBootstrap;
  readonly #port: MessagePort;
  // The thread's own, taken before task code can replace the global.
  readonly #setImmediate = setImmediate;
  readonly #relay: OutputRelay;
  readonly #runner: TaskRunner;
  /** What start() installed, undone in reverse order by close(). */
  readonly #teardown: Array<() => void> = [];
  /** Training tasks whose owner asked them to stop. */
  readonly #stopRequests = new Set<string>();
  /** Compiled task functions by source. */
  readonly #compiledFunctions = new Map<string, (context: TaskContext) => unknown>();
  /** Loaded for the first `%%workers` cell or importing task rather than at start. */
  #cellCompiler: Promise<CellCompiler> | undefined;
  /** Loaded for the first train, exportModel or evaluate task rather than at start. */
  #training: Promise<TrainingModules> | undefined;
  /** Mesh changes run one after another, in the order the owner sent them. */
  #meshChanges: Promise<void> = Promise.resolve();
  #worldSize: number;
  #loaded: Loaded | undefined;
  #started = false;
  #closed = false;

  constructor(bootstrap: WorkerBootstrap, port: MessagePort) {
    this.#bootstrap = bootstrap;
    this.#port = port;
    this.#worldSize = bootstrap.worldSize;
    this.#relay = new OutputRelay(
      (message) => this.#post(message),
      (callback) => this.#setImmediate(callback),
    );
    this.#runner = new TaskRunner(
      this.#setImmediate,
      (taskId) => {
        if (taskId !== null) this.#relay.taskId = taskId;
      },
      { settled: replacementsSettled },
    );
  }

  /**
   * Captures output, loads tfjs and its backend, installs the warning filter, the globals and the
   * supervisor's inspector entries, listens on the port and says `ready` (with the backend). A
   * failed load is reported as `startFailed` and rethrown; the supervisor then ends the process.
   */
  async start(): Promise<void> {
    if (this.#started) throw new RingbookError("ERR_WORKER_THREAD", "the rank runtime was already started");
    this.#started = true;
    const startedAt = performance.now();
    this.#teardown.push(this.#relay.install());
    const onUncaught = (error: Error): void => this.#relay.write("stderr", `[uncaught] ${error.stack ?? String(error)}\n`);
    const onUnhandled = (reason: unknown): void =>
      this.#relay.write("stderr", `[unhandled rejection] ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`);
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUnhandled);
    this.#teardown.push(() => {
      process.off("uncaughtException", onUncaught);
      process.off("unhandledRejection", onUnhandled);
    });
    let tf: Tfjs;
    let choice: BackendChoice;
    try {
      tf = (await import("../tfjs.cjs")).default;
      choice = await selectBackend(this.#bootstrap.backend, { gpu: this.#bootstrap.gpu });
      // Tasks can save and load with "file://" URLs (it defers to tfjs-node's handler where that loaded).
      registerFileSystemRouter();
    } catch (error) {
      this.#relay.flush();
      this.#post({ type: "forward", message: { type: "startFailed", error: toRemoteError(error) }, payload: null });
      throw error;
    }
    const mesh = new WorkerMesh({
      rank: this.#bootstrap.rank,
      security: linkSecurityOf(this.#bootstrap),
      clusterId: this.#bootstrap.clusterId,
      // A failed collective reaches its task as an error, and a mesh that fails between operations
      // (a rank restarted or removed) is replaced anyway: only refused intruders are worth a line.
      log: (line) => {
        if (/refus/i.test(line)) this.#relay.write("stderr", `[mesh] ${line}\n`);
      },
    });
    this.#loaded = { tf, choice, mesh };
    this.#teardown.push(
      setUpCodeThread({
        // Printed as Node would, into the output of the task that runs.
        printWarning: (warning) => process.stderr.write(`(node:${process.pid}) ${warning.name}: ${warning.message}\n`),
        inspectorEntries: {
          [interruptProbeKey]: (seq: number, taskId: string | null) => this.#interruptProbe(seq, taskId),
          [closeSocketsKey]: () => this.#closeSocketsNow(),
        },
      }),
    );
    this.#installGlobals(tf, choice, mesh);
    // Before this thread ends (a task's process.exit(), or the supervisor ending the process), no socket may stay open.
    const onExit = (): void => {
      this.#closeSocketsNow();
    };
    process.on("exit", onExit);
    this.#teardown.push(() => process.off("exit", onExit));
    const onMessage = (message: unknown): void => this.#receive(parseToExecution(message));
    this.#port.on("message", onMessage);
    this.#teardown.push(() => this.#port.off("message", onMessage));
    this.#post({
      type: "forward",
      message: {
        type: "ready",
        backend: choice.backend,
        backendSummary: choice.summary,
        device: choice.device,
        // tfjs-core's (the union's own `version` would load every package it names).
        tfjsVersion: tf.version_core,
        startMs: Math.round(performance.now() - startedAt),
        notes: choice.notes,
      },
      payload: null,
    });
  }

  /**
   * Closes the mesh's sockets at once and undoes what {@link start} installed (for a runtime a
   * test ran in its own thread). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#loaded?.mesh.closeNow();
    this.#relay.flush();
    for (const undo of this.#teardown.splice(0).reverse()) undo();
  }

  #post(message: FromExecution): void {
    this.#port.postMessage(message);
  }

  #installGlobals(tf: Tfjs, choice: BackendChoice, mesh: WorkerMesh): void {
    const values = { rank: this.#bootstrap.rank, worldSize: this.#worldSize, tf, backend: choice.backend, device: choice.device };
    for (const [name, value] of Object.entries(values)) Reflect.set(globalThis, name, value);
    Object.defineProperty(globalThis, "collectives", { configurable: true, enumerable: false, get: () => mesh.collectives });
    this.#teardown.push(() => {
      for (const name of rankGlobalNames) Reflect.deleteProperty(globalThis, name);
    });
  }

  /** Closes the thread's ZeroMQ sockets synchronously: zeromq.js aborts the process when a thread ends with sockets open. */
  #closeSocketsNow(): boolean {
    this.#loaded?.mesh.closeNow();
    ZapAuthenticator.closeNow();
    return true;
  }

  #loadTraining(): Promise<TrainingModules> {
    return (this.#training ??= Promise.all([import("../training/worker-train.js"), import("../training/worker-evaluate.js")]));
  }

  #loadCellCompiler(): Promise<CellCompiler> {
    this.#cellCompiler ??= import("../script/index.js").then((script) => ({
      script,
      aliases: { ringbook: ringbookIndexUrl, ...script.bundledAliases(this.#bootstrap.cwd) },
    }));
    return this.#cellCompiler;
  }

  /** The task function of `source`, compiled from `compiledSource` (its imports aliased) when given. */
  #compileFunction(source: string, compiledSource = source): (context: TaskContext) => unknown {
    const cached = this.#compiledFunctions.get(source);
    if (cached) return cached;
    const script = new vm.Script(`(${compiledSource}\n)`, {
      filename: join(this.#bootstrap.cwd, `[rank ${this.#bootstrap.rank}] task`),
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    const value: unknown = script.runInThisContext();
    if (typeof value !== "function") throw new RingbookError("ERR_TASK_NOT_FUNCTION", `the task's source is not a function: ${source.slice(0, 80)}`);
    const task = (context: TaskContext): unknown => Reflect.apply(value, undefined, [context]);
    const oldest = this.#compiledFunctions.keys().next();
    if (this.#compiledFunctions.size >= maxCompiledFunctions && oldest.done !== true) this.#compiledFunctions.delete(oldest.value);
    this.#compiledFunctions.set(source, task);
    return task;
  }

  #startTask(loaded: Loaded, taskId: string, task: TaskSpec, args: unknown): Promise<unknown> {
    const { tf, choice, mesh } = loaded;
    const rank = this.#bootstrap.rank;
    const worldSize = this.#worldSize;
    switch (task.kind) {
      case "function": {
        // A task that imports (rare) has its specifiers aliased first: that needs the compiler.
        if (/\bimport\s*\(/.test(task.source) && !this.#compiledFunctions.has(task.source)) {
          return this.#loadCellCompiler().then(({ script, aliases }) => {
            this.#compileFunction(task.source, script.aliasImportExpressions(task.source, aliases));
            return this.#startTask(loaded, taskId, task, args);
          });
        }
        const fn = this.#compileFunction(task.source);
        const context: TaskContext = {
          rank,
          worldSize,
          tf,
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
        return this.#loadCellCompiler().then(async ({ script, aliases }) => {
          const completion = await script.runCompiledCell(script.compileCell(task.code, { moduleAliases: aliases }), { filename: join(this.#bootstrap.cwd, task.name) });
          return completion?.value;
        });
      case "train":
        return this.#loadTraining().then(([train]) => train.runWorkerTraining(
          {
            rank,
            worldSize,
            allReduceSum: allReduceSumOf(mesh, worldSize),
            broadcast: (values, root) => mesh.collectives.broadcast(values, root),
            emit: (event) => this.#post({ type: "forward", message: { type: "event", taskId }, payload: serialize(event) }),
            stopRequested: () => this.#stopRequests.has(taskId),
          },
          // Built by the owner with parseTrainOptions; a spec that does not parse fails the task naming its field.
          taskKinds.train.parseArgs(args, "the train task's args"),
        )).finally(() => this.#stopRequests.delete(taskId));
      case "exportModel":
        return this.#loadTraining().then(([train]) => train.exportTrainedModel());
      case "evaluate":
        return this.#loadTraining().then(([, evaluate]) => evaluate.evaluateOnWorker(
          {
            rank,
            worldSize,
            allReduceSum: allReduceSumOf(mesh, worldSize),
          },
          // Built by the owner with parseEvaluateOptions; a spec that does not parse fails the task naming its field.
          taskKinds.evaluate.parseArgs(args, "the evaluate task's args"),
        ));
      default: {
        const impossible: never = task;
        return Promise.reject(new RingbookError("ERR_TASK_KIND", `unknown task ${JSON.stringify(impossible)}`));
      }
    }
  }

  #finishTask(taskId: string, outcome: TaskOutcome): void {
    this.#relay.flush();
    switch (outcome.status) {
      case "ok": {
        if (outcome.value === undefined) {
          this.#post({ type: "forward", message: { type: "result", taskId, status: "ok", hasValue: false }, payload: null });
          return;
        }
        const serialized = serializeValue(outcome.value);
        if (serialized.ok) this.#post({ type: "forward", message: { type: "result", taskId, status: "ok", hasValue: true }, payload: serialized.bytes });
        else this.#post({ type: "forward", message: { type: "result", taskId, status: "error", error: serialized.error }, payload: null });
        return;
      }
      case "error":
        this.#post({ type: "forward", message: { type: "result", taskId, status: "error", error: toRemoteError(outcome.error) }, payload: null });
        return;
      case "interrupted":
        this.#post({ type: "forward", message: { type: "result", taskId, status: "interrupted" }, payload: null });
        return;
      default: {
        const impossible: never = outcome;
        throw new RingbookError("ERR_TASK_OUTCOME", `unknown outcome ${JSON.stringify(impossible)}`);
      }
    }
  }

  /**
   * Called by the supervisor through the inspector (`Runtime.evaluate`), which reaches this thread
   * even inside a busy loop. The task (`null`: the running one and everything queued) is finished
   * as interrupted on the next turn of the event loop: at once when it was awaiting, after
   * `terminateExecution` when it was busy.
   */
  #interruptProbe(seq: number, taskId: string | null): boolean {
    this.#setImmediate(() => {
      this.#runner.interrupt(taskId);
      this.#post({ type: "interruptAck", seq });
    });
    return true;
  }

  #changeMesh(generation: number, change: () => Promise<void>): void {
    this.#meshChanges = this.#meshChanges
      .then(change)
      .catch((error: unknown) => this.#post({ type: "forward", message: { type: "meshFailed", generation, error: toRemoteError(error) }, payload: null }));
  }

  #receive(message: ToExecution): void {
    const loaded = this.#loaded;
    if (loaded === undefined) return;
    const { mesh } = loaded;
    switch (message.type) {
      case "task": {
        const { taskId, task, payload } = message;
        this.#runner.enqueue({
          taskId,
          start: () => this.#startTask(loaded, taskId, task, payload === null ? undefined : deserialize(payload)),
          finish: (outcome) => this.#finishTask(taskId, outcome),
        });
        return;
      }
      case "mesh": {
        const { generation, bindAddress } = message;
        this.#worldSize = message.worldSize;
        Reflect.set(globalThis, "worldSize", this.#worldSize);
        this.#changeMesh(generation, async () => {
          const { endpoint, localEndpoint } = await mesh.bind(generation, message.worldSize, bindAddress, message.hosts);
          this.#post({ type: "forward", message: { type: "meshBound", generation, endpoint, localEndpoint }, payload: null });
        });
        return;
      }
      case "peers": {
        const { generation, endpoints } = message;
        this.#changeMesh(generation, async () => {
          await mesh.connect(generation, endpoints);
          this.#post({ type: "forward", message: { type: "peersReady", generation }, payload: null });
        });
        return;
      }
      case "peerDied":
        mesh.peerDied(message.generation, message.rank, message.reason);
        return;
      case "stopTraining":
        this.#stopRequests.add(message.taskId);
        return;
      case "shutdown":
        // Peers told goodbye do not take this rank's leaving for a death (bounded: a peer may be gone).
        void Promise.race([mesh.close({ leaving: true }), new Promise((resolve) => this.#setImmediate(() => setTimeout(resolve, 1000)))])
          .catch(() => undefined)
          .finally(() => this.#post({ type: "shutdownDone" }));
        return;
      default: {
        const impossible: never = message;
        this.#relay.write("stderr", `unknown message from the supervisor: ${JSON.stringify(impossible)}\n`);
      }
    }
  }
}
