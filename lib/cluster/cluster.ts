/**
 * A cluster of warm worker processes owned by one notebook (or script): runs functions and cells
 * on them, streams their output into the caller's cell, interrupts them, notices within
 * milliseconds when one dies (its process exit, not a timeout) and fails every operation that
 * needed it with an error naming the rank, how it died and its last stderr lines. Workers exit by
 * themselves when the owner goes away (their stdin pipe closes), so no worker is ever orphaned.
 */
import { randomUUID } from "node:crypto";
import { serialize, deserialize } from "node:v8";
import type { Collectives } from "../collectives/index.js";
import { RingbookError } from "../errors.js";
import { threadCellSources } from "../script/cell-sources.js";
import { withCellFrames } from "./task-frames.js";
import { checkArgsCloneable } from "../training/args-check.js";
import { parseEvaluateOptions, parseTrainOptions, type EvaluateOptions, type TrainOptions } from "../training/train-spec.js";
import type { MetricSpec } from "../training/metrics.js";
import { rebuildTrainedModel, recipeOf, type TrainedModel, type TrainingRecipe } from "../training/trained-model.js";
import { parseCallbackOptions } from "../training/callback-options.js";
import { ClusterClosedError, RemoteTaskError, WorkerDiedError, type WorkerExit } from "./cluster-errors.js";
import type { ClusterSettings } from "./cluster-settings.js";
import { describeCluster, type ClusterDescription, type WorkerDescription } from "./describe.js";
import { linkKindOf } from "./link-encryption.js";
import { findDisplayHost } from "../plots/live-display.js";
import { LiveTrainingView } from "./live-training-view.js";
import type { TaskSpec } from "./messages.js";
import { PendingTask, type RankOutcome } from "./pending-task.js";
import { TaskHandle } from "./task-handle.js";
import type { TaskEventOf, TaskKindName, TaskResultOf } from "./task-kinds.js";
import { prefixLines, PrefixedPrinter } from "./task-output.js";
import { TrainRun } from "./train-run.js";
import type { WorkerHandle } from "./worker-handle.js";
import { WorkerPool, type TaskMessage } from "./worker-pool.js";

export type { ClusterSettings } from "./cluster-settings.js";

/** What task code receives as its argument on a worker. */
export interface WorkerContext<Args = unknown> {
  rank: number;
  worldSize: number;
  tf: typeof import("@tensorflow/tfjs");
  args: Args;
  backend: string;
  device: string;
  /** allReduce, broadcast, barrier and allGather with the other ranks. */
  collectives: Collectives;
}

/** Options of {@link Cluster.run}. */
export interface RunOptions<Args> {
  /** Ranks to run on. @default every rank */
  ranks?: readonly number[];
  /** Structured-clone data handed to the function as `args` (closures do not travel). */
  args?: Args;
  /** Aborting interrupts the task on its workers. */
  signal?: AbortSignal;
}

/** How {@link Cluster} runs one task of kind `Kind`. */
interface ExecuteOptions<Kind extends TaskKindName> {
  ranks?: readonly number[] | undefined;
  args?: unknown;
  signal?: AbortSignal | undefined;
  /** Interrupts become stop requests (training). */
  stoppable?: boolean;
  /** Called once the task is registered, before it is sent. */
  onStart?: (task: TaskHandle<Kind>) => void;
  /** Every event of the kind, parsed, in the order each rank sent them. */
  onEvent?: (event: TaskEventOf<Kind>) => void;
}

/** A launched cluster. Create one with {@link launchCluster}. */
export class Cluster {
  readonly id: string;
  readonly #settings: ClusterSettings;
  readonly #pool: WorkerPool;
  readonly #tasks = new Map<string, PendingTask>();
  /** Training runs in flight → settles once the run ended and its live view shows the final state. */
  readonly #runs = new Map<TrainRun, Promise<void>>();
  /** A task failed on one rank while others waited on it: their mesh is broken (see #onTaskMessage). */
  #meshStale = false;
  #cellCount = 0;
  /** How the model the workers hold was trained: set once a run's ranks built it (their first event). */
  #trainedWith: TrainingRecipe | undefined;
  /** The metrics and args of the run that trained the workers' model: `evaluate`'s defaults. */
  #evaluateDefaults: { metrics: MetricSpec[]; args: unknown } = { metrics: [], args: undefined };
  #closing: Promise<void> | undefined;
  readonly #onClose: Array<() => void> = [];

  private constructor(settings: ClusterSettings, pool: WorkerPool) {
    this.id = pool.id;
    this.#settings = settings;
    this.#pool = pool;
  }

  /**
   * Starts `workers` processes and resolves when all are ready. Use {@link launchCluster}.
   * `onCreated` sees the cluster before any worker starts (to register it for closing).
   */
  static async start(workers: number, settings: ClusterSettings, onCreated?: (cluster: Cluster) => void): Promise<Cluster> {
    let cluster: Cluster | undefined;
    // The pool reports to the cluster, which needs the pool: the listener forwards once both exist.
    const pool = await WorkerPool.open(randomUUID().slice(0, 8), settings, {
      onTaskMessage: (worker, message) => {
        if (cluster !== undefined) cluster.#onTaskMessage(worker, message);
      },
      onWorkerDied: (worker, exit) => {
        if (cluster !== undefined) cluster.#onWorkerDied(worker, exit);
      },
      onStrayOutput: (rank, stream, text) => printStray(rank, stream, text),
    });
    cluster = new Cluster(settings, pool);
    try {
      onCreated?.(cluster);
      await pool.spawnRanks(Array.from({ length: workers }, (_, rank) => rank), workers);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** Number of ranks. */
  get worldSize(): number {
    return this.#pool.worldSize;
  }

  /** The owner's control socket (diagnostics; every connection to it needs the cluster's secret). */
  get controlEndpoint(): string {
    return this.#pool.controlEndpoint;
  }

  /** The 0700 directory holding the cluster's ipc sockets; removed by {@link close}. */
  get ipcDirectory(): string {
    return this.#pool.ipcDirectory;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Rank, pid, host, backend, device, link and state of every worker (a table in notebooks). */
  describe(): ClusterDescription {
    const rows: WorkerDescription[] = [];
    const link = linkKindOf(this.#settings.transport, this.#settings.linkEncryption);
    for (let rank = 0; rank < this.worldSize; rank++) {
      const worker = this.#pool.worker(rank);
      const busy = [...this.#tasks.values()].some((task) => task.unsettledRanks.includes(rank));
      rows.push({
        rank,
        pid: worker?.remotePid ?? worker?.pid ?? null,
        host: worker?.host ?? "",
        backend: worker?.info?.backend ?? "",
        backendSummary: worker?.info?.backendSummary ?? "",
        backendNotes: worker?.info?.notes ?? [],
        device: worker?.info?.device ?? "",
        link,
        state: worker === undefined ? "closed" : worker.state === "ready" && busy ? "busy" : worker.state,
        incarnation: worker?.incarnation ?? -1,
        slurmStep: worker?.slurmStep ?? null,
      });
    }
    return describeCluster(rows, { launcher: this.#settings.launcher.describe(), network: this.#settings.network });
  }

  /**
   * Runs `fn` on every rank (or `options.ranks`) and resolves with each rank's result, in rank
   * order. `fn` travels as source text: it must not close over notebook variables (pass them in
   * `args`). Output it prints appears here prefixed with `[rank r]`.
   * @example
   * const backends = await cluster.run(({ rank, tf }) => `${rank}: ${tf.getBackend()}`);
   */
  async run<Result, Args = undefined>(fn: (context: WorkerContext<Args>) => Result | Promise<Result>, options: RunOptions<Args> = {}): Promise<Awaited<Result>[]> {
    if (typeof fn !== "function") throw new RingbookError("ERR_BAD_TASK", `cluster.run expects a function, got ${typeof fn}`);
    const source = fn.toString();
    // A tensor would arrive as an empty shell, a function not at all: say so here, with the path.
    if (options.args !== undefined) checkArgsCloneable(options.args, { serialized: false });
    if (/^\s*(async\s+)?[\w$]+\s*\([^)]*\)\s*\{/.test(source) && !/^\s*(async\s+)?function\b/.test(source)) {
      throw new RingbookError("ERR_BAD_TASK", "cluster.run cannot send a method shorthand; pass an arrow function or a function expression");
    }
    let results: unknown[];
    try {
      results = await this.#execute({ kind: "function", source }, options);
    } catch (error) {
      // Frames in the function point into the cell that wrote it, not the worker's copy.
      throw await withCellFrames(error, source);
    }
    // The function's declared result type: its value crossed a process as structured-clone data,
    // which no parser can check against a TypeScript type (the one cast the caller asked for).
    return results as Awaited<Result>[];
  }

  /**
   * Runs a TypeScript cell on the workers, in each worker's global scope (declarations persist
   * across cells on the workers, as `%%px` does). Resolves with each rank's last expression.
   */
  async runCell(code: string, options: { ranks?: readonly number[]; signal?: AbortSignal } = {}): Promise<unknown[]> {
    if (typeof code !== "string") throw new RingbookError("ERR_BAD_TASK", `runCell expects source text, got ${typeof code}`);
    const name = `workers-cell-${++this.#cellCount}`;
    // The workers compile it with the default options: its frames in a worker's error map back here.
    threadCellSources.record(name, code, {});
    return this.#execute({ kind: "cell", code, name }, options);
  }

  /**
   * Trains a model data-parallel on every worker: identical initial weights (rank 0's), the
   * global batch sharded by rank, gradients averaged with the cluster's all-reduce every step.
   * Options are checked here, before any worker computes; the run starts at once.
   * @example
   * const run = cluster.train({ model: ({ tf }) => tf.sequential({ layers: [...] }), data: { builtin: "mnist" }, batchSize: 256, epochs: 1 });
   * for await (const step of run.metrics) console.log(step.step, step.loss);
   * const result = await run;
   */
  train<Args = any>(options: TrainOptions<Args>): TrainRun {
    this.#assertOpen("train");
    const spec = parseTrainOptions(options, this.worldSize);
    const recipe = recipeOf(options, spec.optimizer, this.worldSize);
    const run = new TrainRun(
      this.worldSize,
      spec.schedule,
      (onEvent, onStart) =>
        this.#execute(
          { kind: "train" },
          {
            args: spec,
            stoppable: true,
            onStart: (task) => onStart(() => task.stop()),
            // A rank sends events only once every rank built the new model: the workers hold it now.
            onEvent: (event) => {
              this.#trainedWith = recipe;
              this.#evaluateDefaults = { metrics: spec.metrics ?? [], args: spec.args };
              onEvent(event);
            },
          },
        ),
      trainRunOptions(options),
    );
    const host = options.live === false ? undefined : findDisplayHost();
    // The view shows its displays now, before this cell can end (see LiveTrainingView).
    const view = host === undefined ? undefined : new LiveTrainingView(run, host, typeof options.live === "object" ? options.live : {});
    // Settles once the run ended and its final state is shown: what stopTraining waits for.
    const ended = run.then(
      (result) => view?.finish(result.stopped ? "stopped" : "done"),
      (error: unknown) => view?.finish("failed", error instanceof Error ? error.message : String(error)),
    );
    const settled = ended.then(
      () => undefined,
      (error: unknown) => this.#settings.log(`cluster ${this.id}: the live view's final state failed: ${error instanceof Error ? error.message : String(error)}`),
    );
    this.#runs.set(run, settled);
    void settled.then(() => this.#runs.delete(run));
    return run;
  }

  /**
   * Asks every training run in flight on this cluster to stop after the step its ranks agree on,
   * and resolves once each has ended and its live view shows the final state (`stopped:` with the
   * static image), or as soon as `signal` aborts. A notebook host does this before it closes the
   * cluster at shutdown, so a run cut short by a closed notebook or a stopped `ringbook run`
   * still saves how far it got.
   * @example
   * await cluster.stopTraining({ signal: AbortSignal.timeout(2000) });
   */
  async stopTraining(options: { signal?: AbortSignal } = {}): Promise<void> {
    const endings = [...this.#runs].map(([run, ended]) => {
      run.stop();
      return ended;
    });
    if (endings.length === 0) return;
    const signal = options.signal;
    if (signal === undefined) {
      await Promise.all(endings);
      return;
    }
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([Promise.all(endings), new Promise<void>((resolve) => {
        onAbort = resolve;
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", onAbort, { once: true });
      })]);
    } finally {
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The model the workers trained last, copied into this process from one rank's weights (all
   * ranks hold the same after a step) and ready to use: a `tf.LayersModel` compiled with the
   * run's loss and optimizer, or a {@link CustomModel} rebuilt by the run's model function.
   * `predict`, `evaluate`, `getWeights`, `countParams` and `dispose` work on either; `saveModel`
   * saves either.
   * @example
   * const model = await cluster.model();
   * const loss = model.evaluate(xs, ys) as tf.Scalar;
   * await saveModel(model, "runs/exp3");
   */
  async model(options: { rank?: number } = {}): Promise<TrainedModel> {
    const rank = options.rank ?? 0;
    const [exported] = await this.#execute({ kind: "exportModel" }, { ranks: [rank] });
    if (exported === undefined) throw new RingbookError("ERR_NO_OUTCOME", `rank ${rank} exported no model`);
    return rebuildTrainedModel(exported, this.#trainedWith);
  }

  /**
   * Evaluates the model the workers trained last on `data` (any form `train`'s `data` takes),
   * distributed: each rank takes its shard of every batch, in inference mode, and the sums of
   * loss × samples and of the metrics are all-reduced once, so the result equals evaluating the
   * whole data in one process (up to float rounding). Checked here before any worker computes.
   * `steps` evaluates only the first batches (required for an endless `tf.data.Dataset`).
   * @returns `{ loss, ...metrics }` (the last run's metrics unless `metrics` is given; with several
   * outputs also `<output>_loss` and `<output>_<metric>`)
   * @example
   * const { loss, accuracy } = await cluster.evaluate({ builtin: "mnist", split: "test" }, { batchSize: 512 });
   */
  async evaluate<Args = any>(data: TrainOptions<Args>["data"], options: EvaluateOptions<Args> = {}): Promise<Record<string, number>> {
    this.#assertOpen("evaluate");
    const spec = parseEvaluateOptions(data, options, this.worldSize, this.#evaluateDefaults);
    const [logs] = await this.#execute({ kind: "evaluate" }, { args: spec });
    if (logs === undefined) throw new RingbookError("ERR_NO_OUTCOME", "evaluate ended without a result from rank 0");
    return logs;
  }

  /**
   * Interrupts whatever the workers are running; they keep their state. Training is asked to stop
   * instead, so that every rank ends after the same step with the same weights.
   */
  interrupt(): void {
    for (const task of this.#tasks.values()) {
      if (task.stoppable) this.#stopTask(task);
      else this.#interruptTask(task);
    }
  }

  /**
   * Replaces workers with fresh processes (their state is lost): `ranks`, or by default every
   * dead one. Resolves when they are ready.
   */
  async restart(ranks?: readonly number[]): Promise<void> {
    this.#assertOpen("restart workers");
    const chosen = ranks === undefined ? this.#pool.deadRanks() : this.#checkRanks(ranks);
    if (chosen.length === 0) return;
    await Promise.all(chosen.map((rank) => this.#pool.stopWorker(rank, "restarted by cluster.restart()")));
    await this.#pool.spawnRanks(chosen, this.worldSize);
  }

  /** Grows or shrinks the cluster to `workers` ranks between runs. */
  async resize(workers: number): Promise<void> {
    this.#assertOpen("resize");
    if (!Number.isSafeInteger(workers) || workers < 1) throw new RingbookError("ERR_BAD_OPTION", `resize needs a positive integer, got ${JSON.stringify(workers)}`);
    if (this.#tasks.size > 0) throw new RingbookError("ERR_CLUSTER_BUSY", `cannot resize while ${this.#tasks.size} task(s) run; wait for them or interrupt`);
    const old = this.worldSize;
    if (workers < old) await this.#pool.shrinkTo(workers);
    else if (workers > old) await this.#pool.spawnRanks(Array.from({ length: workers - old }, (_, i) => old + i), workers);
  }

  /** Registers a callback run once when the cluster closes (used by notebook integrations). */
  onClose(callback: () => void): void {
    this.#onClose.push(callback);
  }

  /** Stops every worker (each leaves its peers with a goodbye; killed if it has not exited after 4 s), closes sockets, removes the ipc directory. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- tasks

  /**
   * Sends a task to its ranks and drives its handle to the end in the caller's async context:
   * output is printed with rank prefixes, the kind's events go to `onEvent`. Resolves with every
   * rank's result, parsed by the kind (see task-kinds), in rank order.
   */
  async #execute<Kind extends TaskKindName>(task: TaskSpec & { kind: Kind }, options: ExecuteOptions<Kind>): Promise<Array<TaskResultOf<Kind>>> {
    this.#assertOpen("run a task");
    options.signal?.throwIfAborted();
    if (this.#meshStale) {
      this.#meshStale = false;
      await this.#pool.buildMesh();
    }
    const targets = options.ranks === undefined ? Array.from({ length: this.worldSize }, (_, rank) => rank) : this.#checkRanks(options.ranks);
    for (const rank of targets) {
      const worker = this.#pool.worker(rank);
      if (!worker?.alive) {
        const exit = this.#pool.lastExit(rank);
        if (exit) throw new WorkerDiedError(exit, "an earlier operation");
        throw new RingbookError("ERR_WORKER_UNAVAILABLE", `worker rank ${rank} is ${worker?.state ?? "missing"}`);
      }
    }
    let payload: Uint8Array | null = null;
    if (options.args !== undefined) {
      try {
        payload = serialize(options.args);
      } catch (error) {
        throw new RingbookError("ERR_ARGS_NOT_CLONEABLE", `args cannot be sent to workers: ${messageOf(error)}. Pass plain data (numbers, strings, arrays, objects, typed arrays)`, { cause: error });
      }
    }
    const pending = new PendingTask(randomUUID(), targets, options.stoppable === true);
    const handle = new TaskHandle(task.kind, pending, () => (pending.stoppable ? this.#stopTask(pending) : this.#interruptTask(pending)));
    this.#tasks.set(pending.taskId, pending);
    const onAbort = (): void => this.#interruptTask(pending);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      options.onStart?.(handle);
      for (const rank of targets) this.#pool.send(this.#pool.worker(rank)!, { type: "task", taskId: pending.taskId, task }, payload);
      const printer = new PrefixedPrinter();
      for await (const event of handle.events()) {
        if (event.kind === "output") printer.print(event);
        else options.onEvent?.(event.event);
      }
      printer.end();
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      this.#tasks.delete(pending.taskId);
    }
    options.signal?.throwIfAborted();
    return handle.result();
  }

  /** Asks the ranks running a stoppable task (training) to stop after the step they agree on. */
  #stopTask(task: PendingTask): void {
    for (const rank of task.unsettledRanks) {
      const worker = this.#pool.worker(rank);
      if (worker) this.#pool.send(worker, { type: "stopTraining", taskId: task.taskId });
    }
  }

  #interruptTask(task: PendingTask): void {
    for (const rank of task.unsettledRanks) {
      const worker = this.#pool.worker(rank);
      if (worker) this.#pool.send(worker, { type: "interrupt", taskId: task.taskId });
    }
  }

  // ---------------------------------------------------------------- from the pool

  /** Output, events and results of tasks, from the pool. */
  #onTaskMessage(worker: WorkerHandle, message: TaskMessage): void {
    switch (message.type) {
      case "output": {
        const task = message.taskId === null ? undefined : this.#tasks.get(message.taskId);
        // Output that comes after its task ended (every rank settled) is still printed.
        const queued = task?.push({ kind: "output", rank: worker.rank, stream: message.stream, text: message.text }) ?? false;
        if (!queued) printStray(worker.rank, message.stream, message.text);
        return;
      }
      case "event":
        this.#tasks.get(message.taskId)?.push({ kind: "event", rank: worker.rank, payload: message.payload });
        return;
      case "result": {
        const task = this.#tasks.get(message.taskId);
        const outcome = this.#outcomeOf(worker.rank, message);
        task?.settle(worker.rank, outcome);
        // A rank whose part failed (a checkpoint that could not be written, an exception) leaves
        // the others waiting for it in a collective: they fail now, naming it, and the mesh is
        // built anew before the next task.
        if (task !== undefined && outcome.status === "error" && task.unsettledRanks.length > 0) {
          const reason = `rank ${worker.rank} failed its part of the task: ${(outcome.error.message.split("\n")[0] ?? "").replace(/^\[rank \d+\] /, "")}`;
          this.#pool.abandonPeer(worker.rank, task.unsettledRanks, reason);
          this.#meshStale = true;
        }
        return;
      }
      default: {
        const impossible: never = message;
        this.#settings.log(`cluster ${this.id}: unhandled task message ${JSON.stringify(impossible)}`);
      }
    }
  }

  /** A worker died: every task waiting on it fails; its other ranks are interrupted rather than awaited. */
  #onWorkerDied(worker: WorkerHandle, exit: WorkerExit): void {
    for (const task of this.#tasks.values()) {
      if (!task.unsettledRanks.includes(worker.rank)) continue;
      task.settle(worker.rank, { status: "error", error: new WorkerDiedError(exit, "a task") });
      this.#interruptTask(task);
    }
  }

  #outcomeOf(rank: number, message: TaskMessage & { type: "result" }): RankOutcome {
    switch (message.status) {
      case "ok":
        if (!message.hasValue) return { status: "ok", value: undefined };
        if (message.payload === null) return { status: "error", error: new RingbookError("ERR_MISSING_PAYLOAD", `rank ${rank} sent a result without its value`) };
        try {
          return { status: "ok", value: deserialize(message.payload) };
        } catch (error) {
          return { status: "error", error: new RingbookError("ERR_BAD_PAYLOAD", `rank ${rank}'s result could not be read: ${messageOf(error)}`) };
        }
      case "error":
        return { status: "error", error: new RemoteTaskError(rank, message.error) };
      case "interrupted":
        return { status: "interrupted" };
      default: {
        const impossible: never = message;
        return { status: "error", error: new RingbookError("ERR_BAD_RESULT", `unknown result ${JSON.stringify(impossible)}`) };
      }
    }
  }

  async #close(): Promise<void> {
    for (const task of this.#tasks.values()) {
      for (const rank of task.unsettledRanks) task.settle(rank, { status: "error", error: new ClusterClosedError("finish the task") });
    }
    await this.#pool.close();
    for (const callback of this.#onClose.splice(0)) {
      try {
        callback();
      } catch (error) {
        this.#settings.log(`cluster ${this.id}: close callback failed: ${messageOf(error)}`);
      }
    }
  }

  #assertOpen(what: string): void {
    if (this.#closing) throw new ClusterClosedError(what);
  }

  #checkRanks(ranks: readonly number[]): number[] {
    if (!Array.isArray(ranks) || ranks.length === 0) throw new RingbookError("ERR_BAD_RANKS", `ranks must be a non-empty array, got ${JSON.stringify(ranks)}`);
    for (const rank of ranks) {
      if (!Number.isSafeInteger(rank) || rank < 0 || rank >= this.worldSize) {
        throw new RingbookError("ERR_BAD_RANKS", `rank ${JSON.stringify(rank)} is not in this cluster of ${this.worldSize} (ranks 0..${this.worldSize - 1})`);
      }
    }
    return [...new Set(ranks)].sort((a, b) => a - b);
  }
}

/** What a caught value says (anything may be thrown). */
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Output that belongs to no task, printed with its rank. */
function printStray(rank: number, stream: "stdout" | "stderr", text: string): void {
  const prefixed = prefixLines(rank, text);
  if (stream === "stdout") process.stdout.write(prefixed);
  else process.stderr.write(prefixed);
}

/** The owner-side options of a run (callbacks run here, in the notebook; they never travel). */
function trainRunOptions(options: TrainOptions): ConstructorParameters<typeof TrainRun>[3] {
  return options.callbacks === undefined ? {} : { callbacks: parseCallbackOptions(options.callbacks) };
}
