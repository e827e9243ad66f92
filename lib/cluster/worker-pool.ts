/**
 * The processes of a cluster and their membership: spawns workers with their bootstrap, waits for
 * them to be ready, builds the peer mesh of every membership generation, watches heartbeats and
 * exits, and stops them. Messages about tasks (output, events, results) are handed to the
 * cluster; everything else about a worker's life is handled here.
 */
import { RingbookError } from "../errors.js";
import { toRank } from "../ids.js";
import { ClusterSecret } from "../transport/cluster-secret.js";
import { generateCurveKeys, type CurveKeys } from "../transport/curve-keys.js";
import type { LinkSecurity } from "../transport/link-security.js";
import { PrivateDir } from "../transport/private-dir.js";
import { ClusterClosedError, RemoteTaskError, WorkerDiedError, type WorkerExit } from "./cluster-errors.js";
import type { ClusterSettings } from "./cluster-settings.js";
import { ControlChannel, type ReceivedMessage } from "./control-channel.js";
import { unencryptedLinksWarning } from "./link-encryption.js";
import { assignDevices, listGpus } from "./devices.js";
import type { ToWorker } from "./messages.js";
import { ReplyWaiters } from "./reply-waiters.js";
import type { WorkerBootstrap } from "./worker-bootstrap.js";
import { WorkerHandle } from "./worker-handle.js";

/**
 * glibc malloc settings for workers (unless the environment sets its own): ZeroMQ allocates every
 * received message of a collective (1 MiB chunks) with malloc, and above the default mmap
 * threshold each one is a fresh mmap, page faults and munmap. Serving them from the heap made a
 * 4 MiB allReduce between 2 workers ~20% faster here (bench/collectives.ts, tuned-malloc).
 * Arrays above the 32 MiB ceiling of mmap_threshold (an allReduce's 64 MiB output) still fault in
 * every page (~25 ms per 64 MiB here). Not `glibc.malloc.hugetlb=1`: with THP defrag "madvise"
 * (Debian's default) its huge-page faults compact memory synchronously, ~150 ms per fresh 64 MiB.
 */
const workerMallocTunables = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912:glibc.malloc.top_pad=67108864";

/** Where a rank's peer socket listens: for every peer, and for the peers on its host. */
interface BoundPeer {
  endpoint: string;
  localEndpoint: string | null;
}

/** The endpoints rank `rank` connects to: the local (ipc) one of a peer on its host where it has one, else the peer's tcp one. */
function peerEndpointsFor(rank: number, hosts: readonly string[], bound: readonly BoundPeer[]): string[] {
  return bound.map((peer, r) => (hosts[r] === hosts[rank] ? (peer.localEndpoint ?? peer.endpoint) : peer.endpoint));
}

/** A message about a task, for the cluster. */
export type TaskMessage = ReceivedMessage & { type: "output" | "event" | "result" };

/** What the pool tells its cluster. */
export interface PoolListener {
  /** Output, events and results of tasks. */
  onTaskMessage(worker: WorkerHandle, message: TaskMessage): void;
  /** A worker died on its own (not stopped by the pool); the survivors were told already. */
  onWorkerDied(worker: WorkerHandle, exit: WorkerExit): void;
  /** Output that belongs to no task. */
  onStrayOutput(rank: number, stream: "stdout" | "stderr", text: string): void;
}

export class WorkerPool {
  readonly id: string;
  readonly #settings: ClusterSettings;
  readonly #secret: ClusterSecret;
  /** Made for this cluster when its links are encrypted; they travel only in the bootstraps. */
  readonly #curveKeys: CurveKeys | null;
  readonly #dir: PrivateDir;
  readonly #control: ControlChannel;
  readonly #listener: PoolListener;
  readonly #workers = new Map<number, WorkerHandle>();
  readonly #byIncarnation = new Map<string, WorkerHandle>();
  readonly #lastExit = new Map<number, WorkerExit>();
  readonly #incarnations = new Map<number, number>();
  readonly #replies = new ReplyWaiters();
  readonly #heartbeat: NodeJS.Timeout;
  /** Counts peer meshes: every membership change builds a new one. */
  #generation = 0;
  #worldSize = 0;
  #nextPing = 0;
  #lastBeatAt = performance.now();
  #gpus: number[] | undefined;
  #closing = false;

  private constructor(id: string, settings: ClusterSettings, secret: ClusterSecret, curveKeys: CurveKeys | null, dir: PrivateDir, control: ControlChannel, listener: PoolListener) {
    this.id = id;
    this.#settings = settings;
    this.#secret = secret;
    this.#curveKeys = curveKeys;
    this.#dir = dir;
    this.#control = control;
    this.#listener = listener;
    control.start((message) => this.#onMessage(message));
    this.#heartbeat = setInterval(() => this.#beat(), settings.heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  /** Opens the private directory and the control socket; no worker yet. A failed start closes what it opened. */
  static async open(id: string, settings: ClusterSettings, listener: PoolListener): Promise<WorkerPool> {
    const secret = ClusterSecret.generate();
    const curveKeys = settings.linkEncryption === "curve" ? generateCurveKeys() : null;
    const security: LinkSecurity = curveKeys === null ? { mechanism: "plain", password: secret.socketPassword } : { mechanism: "curve", keys: curveKeys };
    if (curveKeys === null && settings.transport === "tcp") settings.log(unencryptedLinksWarning(id, settings.network.address));
    const dir = await PrivateDir.create();
    try {
      const bindAddress = settings.transport === "ipc" ? dir.endpoint("control") : `tcp://${settings.network.address}:*`;
      const control = await ControlChannel.bind({ bindAddress, secret, security, zapDomain: `ringbook-${id}`, log: settings.log });
      return new WorkerPool(id, settings, secret, curveKeys, dir, control, listener);
    } catch (error) {
      await dir.remove();
      throw error;
    }
  }

  get worldSize(): number {
    return this.#worldSize;
  }

  get controlEndpoint(): string {
    return this.#control.endpoint;
  }

  get ipcDirectory(): string {
    return this.#dir.path;
  }

  worker(rank: number): WorkerHandle | undefined {
    return this.#workers.get(rank);
  }

  /** How rank `rank` last died, if it did. */
  lastExit(rank: number): WorkerExit | undefined {
    return this.#lastExit.get(rank);
  }

  /** Ranks whose worker is dead. */
  deadRanks(): number[] {
    return [...this.#workers.values()].filter((worker) => !worker.alive).map((worker) => worker.rank);
  }

  /** Queues a signed message to a live worker. */
  send(worker: WorkerHandle, message: ToWorker, payload: Uint8Array | null = null): void {
    if (worker.alive) this.#control.send(worker, message, payload);
  }

  /** Starts `ranks` of a world of `worldSize`, waits until they are ready, then rebuilds the peer mesh. */
  async spawnRanks(ranks: readonly number[], worldSize: number): Promise<void> {
    this.#worldSize = worldSize;
    // A rank started again waits for its previous incarnation's resources (see releaseRank).
    await Promise.all(
      ranks.map(async (rank) => {
        const previous = this.#incarnations.get(rank);
        if (previous !== undefined) await this.#settings.launcher.releaseRank?.(rank, previous);
      }),
    );
    const started = ranks.map((rank) => this.#spawn(rank, worldSize));
    const timeoutMs = this.#settings.launchTimeoutMs;
    await Promise.all(started.map((worker) => this.#expectReply(worker, "ready", timeoutMs, "load tfjs and become ready")));
    await this.buildMesh();
  }

  /**
   * Connects every rank to every other for collectives, in two rounds: each binds a fresh peer
   * socket and says where (a tcp port is only known once bound), then each connects to all.
   * A new generation after every membership change; the previous mesh is closed by the workers.
   */
  async buildMesh(): Promise<void> {
    const generation = ++this.#generation;
    const worldSize = this.#worldSize;
    const workers = Array.from({ length: worldSize }, (_, rank) => this.#workers.get(rank)!);
    const timeoutMs = this.#settings.launchTimeoutMs;
    // A rank's host is the address its peer socket binds to: ranks that bind the same address run
    // on one machine (the launcher places them there), so they can reach each other over ipc.
    const hosts = workers.map((worker) => this.#settings.launcher.peerBindHost(worker.rank) ?? this.#settings.network.address);
    const bound = await Promise.all(
      workers.map((worker) => {
        const bindAddress = this.#settings.transport === "ipc" ? this.#dir.endpoint(`peer-${worker.rank}-${generation}`) : `tcp://${hosts[worker.rank]!}:*`;
        const reply = this.#expectReply<BoundPeer>(worker, `meshBound:${generation}`, timeoutMs, "bind its peer socket");
        this.#control.send(worker, { type: "mesh", generation, worldSize, bindAddress, hosts });
        return reply;
      }),
    );
    await Promise.all(
      workers.map((worker) => {
        const connected = this.#expectReply(worker, `peersReady:${generation}`, timeoutMs, "connect to its peers");
        this.#control.send(worker, { type: "peers", generation, endpoints: peerEndpointsFor(worker.rank, hosts, bound) });
        return connected;
      }),
    );
  }

  /**
   * Waits for `worker`'s reply `kind`. A worker that already died fails at once: its death was
   * reported before anyone waited, and the wait would otherwise run into its timeout.
   */
  #expectReply<T>(worker: WorkerHandle, kind: string, timeoutMs: number, what: string): Promise<T> {
    if (!worker.alive) {
      const exit = this.#lastExit.get(worker.rank);
      return Promise.reject(
        exit === undefined
          ? new RingbookError("ERR_WORKER_GONE", `worker rank ${worker.rank} is ${worker.state} and cannot ${what}`)
          : new WorkerDiedError(exit, "start-up or a change of the cluster's membership"),
      );
    }
    return this.#replies.wait<T>(worker, kind, timeoutMs, what);
  }

  /** Stops ranks `from` and above and shrinks the world to `from` ranks. */
  async shrinkTo(from: number): Promise<void> {
    const old = this.#worldSize;
    await Promise.all(Array.from({ length: old - from }, (_, i) => this.stopWorker(from + i, "removed by cluster.resize()")));
    for (let rank = from; rank < old; rank++) this.#workers.delete(rank);
    this.#worldSize = from;
    await this.buildMesh();
  }

  #spawn(rank: number, worldSize: number): WorkerHandle {
    // This machine's GPUs matter only to workers that run here.
    this.#gpus ??= this.#settings.devices === "auto" && this.#settings.launcher.deviceOf === undefined ? listGpus() : [];
    const gpus = this.#gpus;
    const device = this.#settings.launcher.deviceOf?.(rank, this.#settings.devices) ?? assignDevices(this.#settings.devices, rank, () => gpus);
    const bootstrap: WorkerBootstrap = {
      clusterId: this.id,
      rank: toRank(rank),
      incarnation: this.#nextIncarnationOf(rank),
      worldSize,
      controlEndpoint: this.#control.endpoint,
      secretHex: this.#secret.toHex(),
      curveKeys: this.#curveKeys,
      backend: this.#settings.backend,
      gpu: device.gpu !== null,
      cwd: this.#settings.cwd,
    };
    const placement = this.#settings.launcher.slurmPlacement?.(rank);
    if (placement !== undefined) bootstrap.slurm = placement;
    const worker = new WorkerHandle(bootstrap, {
      env: { GLIBC_TUNABLES: workerMallocTunables, ...process.env, ...this.#settings.env, ...device.env },
      launcher: this.#settings.launcher,
      onStrayOutput: (strayRank, stream, text) => this.#listener.onStrayOutput(strayRank, stream, text),
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

  /** Ends one worker (asked to shut down; its pipe closed after 2 s; SIGKILL after 4 s) and waits for its exit. */
  async stopWorker(rank: number, reason: string): Promise<void> {
    const worker = this.#workers.get(rank);
    if (!worker) return;
    const running = worker.child.exitCode === null && worker.child.signalCode === null;
    // Asked first, so that it leaves its peers with a goodbye; then its pipe is closed (it exits
    // at once), and last it is killed.
    if (running && worker.alive) this.#control.send(worker, { type: "shutdown" });
    if (worker.alive) worker.state = "closed";
    if (!running) return;
    const releaseTimer = setTimeout(() => worker.releasePipe(), 2000);
    const killTimer = setTimeout(() => worker.kill(`${reason}, and it did not exit within 4 s`), 4000);
    await worker.exited;
    clearTimeout(releaseTimer);
    clearTimeout(killTimer);
  }

  #beat(): void {
    const now = performance.now();
    const seq = this.#nextPing++;
    const sinceLastBeat = now - this.#lastBeatAt;
    this.#lastBeatAt = now;
    if (sinceLastBeat > this.#settings.heartbeatTimeoutMs / 2) {
      // This thread did not run for that long (a long synchronous cell, a suspended machine):
      // timers run before the pongs that waited are read, so silence now says nothing about the
      // workers. They get a fresh window.
      this.#settings.log(`cluster ${this.id}: the owner did not check heartbeats for ${Math.round(sinceLastBeat / 1000)} s; every worker gets a fresh ${Math.round(this.#settings.heartbeatTimeoutMs / 1000)} s`);
      for (const worker of this.#workers.values()) worker.lastPongAt = now;
    }
    for (const worker of this.#workers.values()) {
      if (worker.state !== "ready") continue;
      if (now - worker.lastPongAt > this.#settings.heartbeatTimeoutMs) {
        worker.kill(`no heartbeat for ${Math.round((now - worker.lastPongAt) / 1000)} s`);
        continue;
      }
      this.#control.send(worker, { type: "ping", seq });
    }
  }

  /** Stops every worker, closes the launcher (a Slurm allocation it made) and the control socket, removes the directory. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#heartbeat);
    this.#replies.failAll(new ClusterClosedError("wait for a worker"));
    await Promise.all([...this.#workers.keys()].map((rank) => this.stopWorker(rank, "the cluster was closed")));
    try {
      await this.#settings.launcher.close();
    } finally {
      await this.#control.close();
      await this.#dir.remove();
    }
  }

  #onMessage(message: ReceivedMessage): void {
    const worker = this.#byIncarnation.get(`${message.rank}.${message.incarnation}`);
    if (!worker) {
      this.#settings.log(`cluster ${this.id}: message ${message.type} from unknown worker ${message.rank}.${message.incarnation}`);
      return;
    }
    switch (message.type) {
      case "hello":
        worker.host = message.host;
        worker.remotePid = message.pid;
        worker.slurmStep = message.slurmStep;
        worker.lastPongAt = performance.now();
        return;
      case "ready":
        worker.info = { ...message, pid: worker.remotePid ?? worker.pid ?? 0, host: worker.host };
        worker.state = "ready";
        // Pings start now; the time it took to load tfjs is not silence.
        worker.lastPongAt = performance.now();
        this.#replies.resolve(worker, "ready");
        return;
      case "startFailed":
        this.#replies.reject(worker, "ready", new RingbookError("ERR_WORKER_START", `worker rank ${worker.rank} could not start: ${message.error.message}`));
        return;
      case "pong":
        worker.lastPongAt = performance.now();
        return;
      case "output":
        if (message.stream === "stderr") worker.noteStderr(message.text);
        this.#listener.onTaskMessage(worker, message);
        return;
      case "event":
      case "result":
        this.#listener.onTaskMessage(worker, message);
        return;
      case "meshBound":
        this.#replies.resolve(worker, `meshBound:${message.generation}`, { endpoint: message.endpoint, localEndpoint: message.localEndpoint });
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

  /**
   * Tells the workers in `ranks` that `failedRank` takes no further part in the current mesh's
   * collectives (its task failed): theirs that wait on it fail with `reason` instead of waiting
   * forever. The mesh is then broken for collectives with that rank; build a new one before the
   * next task ({@link buildMesh}).
   */
  abandonPeer(failedRank: number, ranks: readonly number[], reason: string): void {
    for (const rank of ranks) {
      const worker = this.#workers.get(rank);
      if (worker?.alive === true) this.send(worker, { type: "peerDied", generation: this.#generation, rank: toRank(failedRank), reason });
    }
  }

  #onExit(worker: WorkerHandle, exit: WorkerExit): void {
    this.#byIncarnation.delete(`${worker.rank}.${worker.incarnation}`);
    if (this.#workers.get(worker.rank) !== worker || worker.state === "closed") return;
    this.#lastExit.set(worker.rank, exit);
    if (this.#closing) return;
    // Survivors' collectives waiting on it fail now instead of at a timeout.
    for (const survivor of this.#workers.values()) {
      const reason = new WorkerDiedError(exit, "a collective").message.split("\n")[0]!;
      this.send(survivor, { type: "peerDied", generation: this.#generation, rank: worker.rank, reason });
    }
    // Start-up or a membership change waiting on it fails; otherwise the cluster hears of it.
    if (this.#replies.failWorker(worker, new WorkerDiedError(exit, "start-up or a change of the cluster's membership"))) return;
    this.#settings.log(`cluster ${this.id}: ${new WorkerDiedError(exit, "its idle time").message.split("\n")[0]}`);
    this.#listener.onWorkerDied(worker, exit);
  }
}
