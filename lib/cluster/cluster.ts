/**
 * A cluster of warm worker processes owned by one notebook (or script): runs functions and cells
 * on them, streams their output into the caller's cell, interrupts them, notices within
 * milliseconds when one dies (its process exit, not a timeout) and fails every operation that
 * needed it with an error naming the rank, how it died and its last stderr lines. Workers exit by
 * themselves when the owner goes away (their stdin pipe closes), so no worker is ever orphaned.
 */
import { randomUUID } from "node:crypto";
import { serialize, deserialize } from "node:v8";
import { RingbookError } from "../errors.js";
import { type BackendPreference } from "../backend/select-backend.js";
import { ClusterSecret } from "../transport/cluster-secret.js";
import { PrivateDir } from "../transport/private-dir.js";
import { ClusterClosedError, ClusterTaskError, RemoteTaskError, TaskInterruptedError, WorkerDiedError, type WorkerExit } from "./cluster-errors.js";
import { ControlChannel, type ReceivedMessage } from "./control-channel.js";
import { assignDevices, listGpus, type DeviceOption } from "./devices.js";
import type { TaskSpec } from "./messages.js";
import { PendingTask, type RankOutcome, type TaskEvent } from "./pending-task.js";
import { collectResults, prefixLines, PrefixedPrinter } from "./task-output.js";
import { describeCluster, type WorkerDescription, type ClusterDescription } from "./describe.js";
import { ReplyWaiters } from "./reply-waiters.js";
import { importModel } from "./import-model.js";
import { TrainRun } from "./train-run.js";
import { findDisplayHost, LiveTrainingView } from "./live-training-view.js";
import { parseTrainOptions, type TrainOptions } from "../training/train-spec.js";
import type { ExportedModel, WorkerTrainResult } from "../training/worker-train.js";
import type * as tf from "@tensorflow/tfjs";
import { WorkerHandle } from "./worker-handle.js";
import type { WorkerBootstrap } from "./worker-bootstrap.js";

/** Settings fixed at launch. */
export interface ClusterSettings {
  devices: DeviceOption;
  backend: BackendPreference;
  transport: "ipc" | "tcp";
  /** Interface tcp sockets bind to. */
  host: string;
  cwd: string;
  env: Record<string, string>;
  launchTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  log: (line: string) => void;
}

/** What task code receives as its argument on a worker. */
export interface WorkerContext<Args = unknown> {
  rank: number;
  worldSize: number;
  tf: typeof import("@tensorflow/tfjs");
  args: Args;
  backend: string;
  device: string;
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

/** How {@link Cluster} runs one task. */
interface ExecuteOptions {
  ranks?: readonly number[] | undefined;
  args?: unknown;
  signal?: AbortSignal | undefined;
  /** Interrupts become stop requests (training). */
  stoppable?: boolean;
  /** Called once the task is registered, before it is sent. */
  onStart?: (task: PendingTask) => void;
  onEvent?: (event: TaskEvent & { kind: "event" }) => void;
}

/** A launched cluster. Create one with {@link launchCluster}. */
export class Cluster {
  readonly id: string;
  readonly #settings: ClusterSettings;
  readonly #secret: ClusterSecret;
  readonly #dir: PrivateDir;
  readonly #control: ControlChannel;
  readonly #workers = new Map<number, WorkerHandle>();
  readonly #byIncarnation = new Map<string, WorkerHandle>();
  readonly #lastExit = new Map<number, WorkerExit>();
  readonly #tasks = new Map<string, PendingTask>();
  readonly #replies = new ReplyWaiters();
  /** Counts peer meshes: every membership change builds a new one. */
  #generation = 0;
  #worldSize = 0;
  #cellCount = 0;
  readonly #incarnations = new Map<number, number>();
  #nextPing = 0;
  #gpus: number[] | undefined;
  readonly #heartbeat: NodeJS.Timeout;
  #closing: Promise<void> | undefined;
  readonly #onClose: Array<() => void> = [];

  private constructor(settings: ClusterSettings, secret: ClusterSecret, dir: PrivateDir, control: ControlChannel, id: string) {
    this.id = id;
    this.#settings = settings;
    this.#secret = secret;
    this.#dir = dir;
    this.#control = control;
    control.start((message) => this.#onMessage(message));
    this.#heartbeat = setInterval(() => this.#beat(), settings.heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  /**
   * Starts `workers` processes and resolves when all are ready. Use {@link launchCluster}.
   * `onCreated` sees the cluster before any worker starts (to register it for closing).
   */
  static async start(workers: number, settings: ClusterSettings, onCreated?: (cluster: Cluster) => void): Promise<Cluster> {
    const id = randomUUID().slice(0, 8);
    const secret = ClusterSecret.generate();
    const dir = await PrivateDir.create();
    let control: ControlChannel;
    try {
      const bindAddress = settings.transport === "ipc" ? dir.endpoint("control") : `tcp://${settings.host}:*`;
      control = await ControlChannel.bind({ bindAddress, secret, zapDomain: `ringbook-${id}`, log: settings.log });
    } catch (error) {
      await dir.remove();
      throw error;
    }
    const cluster = new Cluster(settings, secret, dir, control, id);
    try {
      onCreated?.(cluster);
      await cluster.#spawnRanks(Array.from({ length: workers }, (_, rank) => rank), workers);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** Number of ranks. */
  get worldSize(): number {
    return this.#worldSize;
  }

  /** The owner's control socket (diagnostics; every connection to it needs the cluster's secret). */
  get controlEndpoint(): string {
    return this.#control.endpoint;
  }

  /** The 0700 directory holding the cluster's ipc sockets; removed by {@link close}. */
  get ipcDirectory(): string {
    return this.#dir.path;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Rank, pid, host, backend, device and state of every worker (a table in notebooks). */
  describe(): ClusterDescription {
    const rows: WorkerDescription[] = [];
    for (let rank = 0; rank < this.#worldSize; rank++) {
      const worker = this.#workers.get(rank);
      const busy = [...this.#tasks.values()].some((task) => task.unsettledRanks.includes(rank));
      rows.push({
        rank,
        pid: worker?.pid ?? null,
        host: worker?.host ?? "",
        backend: worker?.info?.backend ?? "",
        device: worker?.info?.device ?? "",
        state: worker === undefined ? "closed" : worker.state === "ready" && busy ? "busy" : worker.state,
        incarnation: worker?.incarnation ?? -1,
      });
    }
    return describeCluster(rows);
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
    if (/^\s*(async\s+)?[\w$]+\s*\([^)]*\)\s*\{/.test(source) && !/^\s*(async\s+)?function\b/.test(source)) {
      throw new RingbookError("ERR_BAD_TASK", "cluster.run cannot send a method shorthand; pass an arrow function or a function expression");
    }
    const outcomes = await this.#execute({ kind: "function", source }, options);
    return collectResults(outcomes) as Awaited<Result>[];
  }

  /**
   * Runs a TypeScript cell on the workers, in each worker's global scope (declarations persist
   * across cells on the workers, as `%%px` does). Resolves with each rank's last expression.
   */
  async runCell(code: string, options: { ranks?: readonly number[]; signal?: AbortSignal } = {}): Promise<unknown[]> {
    if (typeof code !== "string") throw new RingbookError("ERR_BAD_TASK", `runCell expects source text, got ${typeof code}`);
    return collectResults(await this.#execute({ kind: "cell", code, name: `workers-cell-${++this.#cellCount}` }, options));
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
  train(options: TrainOptions): TrainRun {
    this.#assertOpen("train");
    const spec = parseTrainOptions(options, this.#worldSize);
    const run = new TrainRun(this.#worldSize, spec.schedule, async (onEvent, onStart) => {
      const outcomes = await this.#execute({ kind: "train" }, { args: spec, stoppable: true, onStart: (task) => onStart(() => this.#stopTask(task)), onEvent });
      return collectResults(outcomes) as WorkerTrainResult[];
    });
    const host = options.live === false ? undefined : findDisplayHost();
    if (host !== undefined) {
      const view = new LiveTrainingView(run, host, typeof options.live === "object" ? options.live : {});
      run.then(
        (result) => view.finish(result.stopped ? "stopped" : "done"),
        () => view.finish("failed"),
      );
    }
    return run;
  }

  /**
   * The model the workers trained last, rebuilt in this process from one rank's weights (all
   * ranks hold the same after a step): a `tf.LayersModel` for layers models, or the named
   * variables of a custom model.
   */
  async model(options: { rank?: number } = {}): Promise<tf.LayersModel | Record<string, tf.Tensor>> {
    const [exported] = collectResults(await this.#execute({ kind: "exportModel" }, { ranks: [options.rank ?? 0] })) as [ExportedModel];
    return importModel(exported);
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
    const chosen = ranks === undefined ? [...this.#workers.values()].filter((worker) => !worker.alive).map((worker) => worker.rank) : this.#checkRanks(ranks);
    if (chosen.length === 0) return;
    await Promise.all(chosen.map((rank) => this.#stopWorker(rank, "restarted by cluster.restart()")));
    await this.#spawnRanks(chosen, this.#worldSize);
  }

  /** Grows or shrinks the cluster to `workers` ranks between runs. */
  async resize(workers: number): Promise<void> {
    this.#assertOpen("resize");
    if (!Number.isSafeInteger(workers) || workers < 1) throw new RingbookError("ERR_BAD_OPTION", `resize needs a positive integer, got ${JSON.stringify(workers)}`);
    if (this.#tasks.size > 0) throw new RingbookError("ERR_CLUSTER_BUSY", `cannot resize while ${this.#tasks.size} task(s) run; wait for them or interrupt`);
    const old = this.#worldSize;
    if (workers < old) {
      await Promise.all(Array.from({ length: old - workers }, (_, i) => this.#stopWorker(workers + i, "removed by cluster.resize()")));
      for (let rank = workers; rank < old; rank++) this.#workers.delete(rank);
      this.#worldSize = workers;
      await this.#buildMesh();
    } else if (workers > old) {
      await this.#spawnRanks(Array.from({ length: workers - old }, (_, i) => old + i), workers);
    }
  }

  /** Registers a callback run once when the cluster closes (used by notebook integrations). */
  onClose(callback: () => void): void {
    this.#onClose.push(callback);
  }

  /** Stops every worker (SIGKILL after 2 s), closes sockets, removes the ipc directory. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- tasks

  /**
   * Sends a task to its ranks and drives it to its end in the caller's async context: output is
   * printed with rank prefixes, other events go to `onEvent`. Resolves with every rank's outcome.
   */
  async #execute(task: TaskSpec, options: ExecuteOptions): Promise<Array<{ rank: number; outcome: RankOutcome }>> {
    this.#assertOpen("run a task");
    options.signal?.throwIfAborted();
    const targets = options.ranks === undefined ? Array.from({ length: this.#worldSize }, (_, rank) => rank) : this.#checkRanks(options.ranks);
    for (const rank of targets) {
      const worker = this.#workers.get(rank);
      if (!worker?.alive) {
        const exit = this.#lastExit.get(rank);
        if (exit) throw new WorkerDiedError(exit, "an earlier operation");
        throw new RingbookError("ERR_WORKER_UNAVAILABLE", `worker rank ${rank} is ${worker?.state ?? "missing"}`);
      }
    }
    let payload: Uint8Array | null = null;
    if (options.args !== undefined) {
      try {
        payload = serialize(options.args);
      } catch (error) {
        throw new RingbookError("ERR_ARGS_NOT_CLONEABLE", `args cannot be sent to workers: ${(error as Error).message}. Pass plain data (numbers, strings, arrays, objects, typed arrays)`, { cause: error });
      }
    }
    const pending = new PendingTask(randomUUID(), targets, options.stoppable === true);
    this.#tasks.set(pending.taskId, pending);
    const onAbort = (): void => this.#interruptTask(pending);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      options.onStart?.(pending);
      for (const rank of targets) this.#control.send(this.#workers.get(rank)!, { type: "task", taskId: pending.taskId, task }, payload);
      const printer = new PrefixedPrinter();
      for await (const event of pending.events()) {
        if (event.kind === "output") printer.print(event);
        else options.onEvent?.(event);
      }
      printer.end();
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      this.#tasks.delete(pending.taskId);
    }
    options.signal?.throwIfAborted();
    return pending.outcomes();
  }

  /** Asks the ranks running a stoppable task (training) to stop after the step they agree on. */
  #stopTask(task: PendingTask): void {
    for (const rank of task.unsettledRanks) {
      const worker = this.#workers.get(rank);
      if (worker?.alive) this.#control.send(worker, { type: "stopTraining", taskId: task.taskId });
    }
  }

  #interruptTask(task: PendingTask): void {
    for (const rank of task.unsettledRanks) {
      const worker = this.#workers.get(rank);
      if (worker?.alive) this.#control.send(worker, { type: "interrupt", taskId: task.taskId });
    }
  }

  // ---------------------------------------------------------------- messages

  #onMessage(message: ReceivedMessage): void {
    const worker = this.#byIncarnation.get(`${message.rank}.${message.incarnation}`);
    if (!worker) {
      this.#settings.log(`cluster ${this.id}: message ${message.type} from unknown worker ${message.rank}.${message.incarnation}`);
      return;
    }
    switch (message.type) {
      case "hello":
        worker.host = message.host;
        worker.lastPongAt = performance.now();
        return;
      case "ready":
        worker.info = { ...message, pid: worker.pid ?? 0, host: worker.host };
        worker.state = "ready";
        this.#replies.resolve(worker, "ready");
        return;
      case "startFailed":
        this.#replies.reject(worker, "ready", new RingbookError("ERR_WORKER_START", `worker rank ${worker.rank} could not start: ${message.error.message}`));
        return;
      case "pong":
        worker.lastPongAt = performance.now();
        return;
      case "output": {
        if (message.stream === "stderr") worker.noteStderr(message.text);
        const task = message.taskId === null ? undefined : this.#tasks.get(message.taskId);
        if (task) task.push({ kind: "output", rank: worker.rank, stream: message.stream, text: message.text });
        else this.#stray(worker.rank, message.stream, message.text);
        return;
      }
      case "event":
        this.#tasks.get(message.taskId)?.push({ kind: "event", rank: worker.rank, payload: message.payload });
        return;
      case "result":
        this.#tasks.get(message.taskId)?.settle(worker.rank, this.#outcomeOf(worker.rank, message));
        return;
      case "meshBound":
        this.#replies.resolve(worker, `meshBound:${message.generation}`, message.endpoint);
        return;
      case "peersReady":
        this.#replies.resolve(worker, `peersReady:${message.generation}`);
        return;
      case "meshFailed":
        this.#replies.reject(worker, `meshBound:${message.generation}`, new RemoteTaskError(worker.rank, message.error));
        this.#replies.reject(worker, `peersReady:${message.generation}`, new RemoteTaskError(worker.rank, message.error));
        return;
      case "rejected":
        this.#settings.log(`cluster ${this.id}: worker rank ${worker.rank} rejected a message: ${message.reason}`);
        return;
      default: {
        const impossible: never = message;
        this.#settings.log(`cluster ${this.id}: unhandled message ${JSON.stringify(impossible)}`);
      }
    }
  }

  #outcomeOf(rank: number, message: ReceivedMessage & { type: "result" }): RankOutcome {
    switch (message.status) {
      case "ok":
        if (!message.hasValue) return { status: "ok", value: undefined };
        if (message.payload === null) return { status: "error", error: new RingbookError("ERR_MISSING_PAYLOAD", `rank ${rank} sent a result without its value`) };
        try {
          return { status: "ok", value: deserialize(message.payload) };
        } catch (error) {
          return { status: "error", error: new RingbookError("ERR_BAD_PAYLOAD", `rank ${rank}'s result could not be read: ${(error as Error).message}`) };
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

  #stray(rank: number, stream: "stdout" | "stderr", text: string): void {
    const prefixed = prefixLines(rank, text);
    if (stream === "stdout") process.stdout.write(prefixed);
    else process.stderr.write(prefixed);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts `ranks` of a world of `worldSize`, waits until they are ready, then rebuilds the peer mesh. */
  async #spawnRanks(ranks: readonly number[], worldSize: number): Promise<void> {
    this.#worldSize = worldSize;
    const started = ranks.map((rank) => this.#spawn(rank, worldSize));
    const timeoutMs = this.#settings.launchTimeoutMs;
    await Promise.all(started.map((worker) => this.#replies.wait(worker, "ready", timeoutMs, "load tfjs and become ready")));
    await this.#buildMesh();
  }

  /**
   * Connects every rank to every other for collectives, in two rounds: each binds a fresh peer
   * socket and says where (a tcp port is only known once bound), then each connects to all.
   * A new generation after every membership change; the previous mesh is closed by the workers.
   */
  async #buildMesh(): Promise<void> {
    const generation = ++this.#generation;
    const worldSize = this.#worldSize;
    const workers = Array.from({ length: worldSize }, (_, rank) => this.#workers.get(rank)!);
    const timeoutMs = this.#settings.launchTimeoutMs;
    const endpoints = await Promise.all(
      workers.map((worker) => {
        const bindAddress = this.#settings.transport === "ipc" ? this.#dir.endpoint(`peer-${worker.rank}-${generation}`) : `tcp://${this.#settings.host}:*`;
        const bound = this.#replies.wait<string>(worker, `meshBound:${generation}`, timeoutMs, "bind its peer socket");
        this.#control.send(worker, { type: "mesh", generation, worldSize, bindAddress });
        return bound;
      }),
    );
    await Promise.all(
      workers.map((worker) => {
        const connected = this.#replies.wait(worker, `peersReady:${generation}`, timeoutMs, "connect to its peers");
        this.#control.send(worker, { type: "peers", generation, endpoints });
        return connected;
      }),
    );
  }

  #spawn(rank: number, worldSize: number): WorkerHandle {
    this.#gpus ??= this.#settings.devices === "auto" ? listGpus() : [];
    const gpus = this.#gpus;
    const device = assignDevices(this.#settings.devices, rank, () => gpus);
    const bootstrap: WorkerBootstrap = {
      clusterId: this.id,
      rank,
      incarnation: this.#nextIncarnationOf(rank),
      worldSize,
      controlEndpoint: this.#control.endpoint,
      secretHex: this.#secret.toHex(),
      backend: this.#settings.backend,
      gpu: device.gpu !== null,
      cwd: this.#settings.cwd,
    };
    const worker = new WorkerHandle(bootstrap, {
      env: { ...process.env, ...this.#settings.env, ...device.env },
      onStrayOutput: (strayRank, stream, text) => this.#stray(strayRank, stream, text),
    });
    this.#workers.set(rank, worker);
    this.#byIncarnation.set(`${rank}.${worker.incarnation}`, worker);
    void worker.exited.then((exit) => this.#onExit(worker, exit));
    return worker;
  }

  #nextIncarnationOf(rank: number): number {
    const next = (this.#incarnations.get(rank) ?? -1) + 1;
    this.#incarnations.set(rank, next);
    return next;
  }

  #onExit(worker: WorkerHandle, exit: WorkerExit): void {
    this.#byIncarnation.delete(`${worker.rank}.${worker.incarnation}`);
    if (this.#workers.get(worker.rank) !== worker || worker.state === "closed") return;
    this.#lastExit.set(worker.rank, exit);
    if (this.#replies.failWorker(worker, new WorkerDiedError(exit, "start-up or a change of the cluster's membership"))) return;
    if (this.#closing) return;
    for (const survivor of this.#workers.values()) {
      if (survivor.alive) this.#control.send(survivor, { type: "peerDied", generation: this.#generation, rank: worker.rank, reason: new WorkerDiedError(exit, "a collective").message });
    }
    this.#settings.log(`cluster ${this.id}: ${new WorkerDiedError(exit, "its idle time").message.split("\n")[0]}`);
    for (const task of this.#tasks.values()) {
      if (!task.unsettledRanks.includes(worker.rank)) continue;
      task.settle(worker.rank, { status: "error", error: new WorkerDiedError(exit, "a task") });
      // Fail fast: the other ranks' part of this task is interrupted rather than awaited.
      this.#interruptTask(task);
    }
  }

  /** Ends one worker (shutdown, then SIGKILL after 2 s) and waits for its exit. */
  async #stopWorker(rank: number, reason: string): Promise<void> {
    const worker = this.#workers.get(rank);
    if (!worker) return;
    if (worker.alive) worker.state = "closed";
    if (worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.releasePipe();
      const timer = setTimeout(() => worker.kill(`${reason}, and it did not exit within 2 s`), 2000);
      await worker.exited;
      clearTimeout(timer);
    }
  }

  #beat(): void {
    const now = performance.now();
    const seq = this.#nextPing++;
    for (const worker of this.#workers.values()) {
      if (worker.state !== "ready") continue;
      if (now - worker.lastPongAt > this.#settings.heartbeatTimeoutMs) {
        worker.kill(`no heartbeat for ${Math.round((now - worker.lastPongAt) / 1000)} s`);
        continue;
      }
      this.#control.send(worker, { type: "ping", seq });
    }
  }

  async #close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#replies.failAll(new ClusterClosedError("wait for a worker"));
    for (const task of this.#tasks.values()) {
      for (const rank of task.unsettledRanks) task.settle(rank, { status: "error", error: new ClusterClosedError("finish the task") });
    }
    await Promise.all([...this.#workers.keys()].map((rank) => this.#stopWorker(rank, "the cluster was closed")));
    await this.#control.close();
    await this.#dir.remove();
    for (const callback of this.#onClose.splice(0)) {
      try {
        callback();
      } catch (error) {
        this.#settings.log(`cluster ${this.id}: close callback failed: ${(error as Error).message}`);
      }
    }
  }

  #assertOpen(what: string): void {
    if (this.#closing) throw new ClusterClosedError(what);
  }

  #checkRanks(ranks: readonly number[]): number[] {
    if (!Array.isArray(ranks) || ranks.length === 0) throw new RingbookError("ERR_BAD_RANKS", `ranks must be a non-empty array, got ${JSON.stringify(ranks)}`);
    for (const rank of ranks) {
      if (!Number.isSafeInteger(rank) || rank < 0 || rank >= this.#worldSize) {
        throw new RingbookError("ERR_BAD_RANKS", `rank ${JSON.stringify(rank)} is not in this cluster of ${this.#worldSize} (ranks 0..${this.#worldSize - 1})`);
      }
    }
    return [...new Set(ranks)].sort((a, b) => a - b);
  }
}
