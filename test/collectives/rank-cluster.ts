/**
 * Test helper: N rank processes (test/collectives/fixtures/rank-process.ts) with connected meshes.
 * Endpoints go through the test over the fork IPC channel. Every process is killed by its own PID
 * if it is still there when the cluster is closed.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { ClusterSecret } from "../../lib/transport/cluster-secret.js";
import { PrivateDir } from "../../lib/transport/private-dir.js";
import type { Command, Report, Step, StepResult } from "./fixtures/rank-protocol.js";

const rankScript = new URL("./fixtures/rank-process.js", import.meta.url);

export interface RankClusterOptions {
  transport?: "ipc" | "tcp";
  watchPeers?: boolean;
  chunkElements?: number;
  /** The password each rank gets (all share the cluster secret's unless overridden). */
  password?: string;
  /** The host each rank claims to run on (Collectives' `hosts`), e.g. ["a", "a", "b", "b"]. */
  hosts?: string[];
  minChunksPerSegment?: number;
  /**
   * With `transport: "tcp"` and `hosts`: ranks that claim one host also bind an ipc endpoint and
   * connect to each other there (as cluster workers do), the others over tcp.
   */
  localLinks?: boolean;
  /** Collectives' sharedMemory option, the same for every rank. */
  sharedMemory?: { directory: string; prefix: string; minElements?: number };
}

/** What one rank answered to a run: its results, or the error its collective rejected with. */
export type RunOutcome = { ok: true; results: StepResult[] } | { ok: false; code: string; message: string; atMs: number };

interface RankProcess {
  child: ChildProcess;
  reports: Report[];
  waiters: Array<() => void>;
  logs: string[];
  exited: Promise<void>;
}

export class RankCluster {
  readonly worldSize: number;
  readonly dir: PrivateDir;
  readonly password: string;
  readonly zapDomain: string;
  readonly endpoints: string[] = [];
  /** The endpoint each rank connected to for each peer (`connected[rank][peer]`). */
  readonly connected: string[][] = [];
  /** Whether each rank's allReduce is the host-aware one. */
  readonly hierarchical: boolean[] = [];
  readonly #ranks: RankProcess[] = [];
  #nextId = 1;

  private constructor(worldSize: number, dir: PrivateDir, password: string, zapDomain: string) {
    this.worldSize = worldSize;
    this.dir = dir;
    this.password = password;
    this.zapDomain = zapDomain;
  }

  /** Starts, binds and connects `worldSize` ranks; a failed start closes what it started. */
  static async start(worldSize: number, options: RankClusterOptions = {}): Promise<RankCluster> {
    const dir = await PrivateDir.create("rbt-");
    const cluster = new RankCluster(worldSize, dir, options.password ?? ClusterSecret.generate().socketPassword, `test-${randomUUID()}`);
    try {
      for (let rank = 0; rank < worldSize; rank++) cluster.#spawn();
      const bound = await Promise.all(
        cluster.#ranks.map(async (process, rank) => {
          const bindAddress = options.transport === "tcp" ? "tcp://127.0.0.1:*" : dir.endpoint(`peer-${rank}`);
          const localBindAddress = options.localLinks === true ? dir.endpoint(`local-${rank}`) : undefined;
          cluster.#send(rank, {
            type: "bind", rank, worldSize, bindAddress, password: cluster.password, zapDomain: cluster.zapDomain, watchPeers: options.watchPeers ?? true,
            ...(options.chunkElements === undefined ? {} : { chunkElements: options.chunkElements }),
            ...(options.hosts === undefined ? {} : { hosts: options.hosts }),
            ...(options.minChunksPerSegment === undefined ? {} : { minChunksPerSegment: options.minChunksPerSegment }),
            ...(localBindAddress === undefined ? {} : { localBindAddress }),
            ...(options.sharedMemory === undefined ? {} : { sharedMemory: options.sharedMemory }),
          });
          const report = await cluster.#next(process, (r) => r.type === "bound");
          cluster.hierarchical[rank] = report.type === "bound" && report.hierarchical;
          return report.type === "bound" ? { endpoint: report.endpoint, localEndpoint: report.localEndpoint } : { endpoint: "", localEndpoint: null };
        }),
      );
      cluster.endpoints.push(...bound.map((b) => b.endpoint));
      const hosts = options.hosts;
      // Like the cluster's worker pool: a peer on the same (claimed) host through its local endpoint.
      const endpointsFor = (rank: number): string[] => bound.map((b, peer) => (hosts !== undefined && hosts[peer] === hosts[rank] ? (b.localEndpoint ?? b.endpoint) : b.endpoint));
      await Promise.all(
        cluster.#ranks.map(async (process, rank) => {
          cluster.connected[rank] = endpointsFor(rank);
          cluster.#send(rank, { type: "connect", endpoints: endpointsFor(rank) });
          await cluster.#next(process, (r) => r.type === "connected");
        }),
      );
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  get pids(): number[] {
    return this.#ranks.map((r) => r.child.pid ?? -1);
  }

  /** Log lines rank `rank` has reported so far. */
  logs(rank: number): string[] {
    return [...this.#ranks[rank]!.logs];
  }

  /** Runs `steps` (or `steps(rank)`) on every rank in `ranks`; resolves with each rank's outcome. */
  run(steps: Step[] | ((rank: number) => Step[]), ranks: readonly number[] = this.#ranks.map((_, r) => r)): Promise<RunOutcome[]> {
    return Promise.all(this.runEach(steps, ranks));
  }

  /** Like {@link RankCluster.run}, with one promise per rank (a rank that exits rejects only its own). */
  runEach(steps: Step[] | ((rank: number) => Step[]), ranks: readonly number[] = this.#ranks.map((_, r) => r)): Array<Promise<RunOutcome>> {
    const id = this.#nextId++;
    return ranks.map(async (rank) => {
      this.#send(rank, { type: "run", id, steps: typeof steps === "function" ? steps(rank) : steps });
      const report = await this.#next(this.#ranks[rank]!, (r) => (r.type === "result" || r.type === "error") && r.id === id);
      if (report.type === "result") return { ok: true as const, results: report.results };
      if (report.type === "error") return { ok: false as const, code: report.code, message: report.message, atMs: report.atMs };
      throw new Error(`unexpected report ${report.type}`);
    });
  }

  /** Resolves when rank `rank` reports that it is about to start the collective of the latest run. */
  started(rank: number): Promise<void> {
    return this.#next(this.#ranks[rank]!, (r) => r.type === "started").then(() => undefined);
  }

  send(rank: number, command: Command): void {
    this.#send(rank, command);
  }

  /** Sends `signal` to rank `rank`'s process, by its PID. */
  signal(rank: number, signal: NodeJS.Signals): void {
    this.#ranks[rank]!.child.kill(signal);
  }

  /** Closes every rank's mesh (twice) and reports what each saw. */
  closeMeshes(): Promise<Array<Extract<Report, { type: "closed" }>>> {
    return Promise.all(
      this.#ranks.map(async (process, rank) => {
        this.#send(rank, { type: "close" });
        const report = await this.#next(process, (r) => r.type === "closed");
        if (report.type !== "closed") throw new Error("unreachable");
        return report;
      }),
    );
  }

  /** Ends every rank process (asking first, then SIGKILL by PID after 5 s) and removes the ipc directory. */
  async close(): Promise<void> {
    await Promise.all(
      this.#ranks.map(async (process) => {
        const { child } = process;
        if (child.exitCode === null && child.signalCode === null) {
          if (child.connected) child.send({ type: "exit" } satisfies Command);
          const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
          await process.exited;
          clearTimeout(timer);
        }
      }),
    );
    await this.dir.remove();
  }

  #spawn(): void {
    const child = fork(rankScript, [], { serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: ["--expose-gc"] });
    const process: RankProcess = {
      child,
      reports: [],
      waiters: [],
      logs: [],
      exited: new Promise((resolve) => child.once("exit", () => resolve())),
    };
    child.on("message", (message: Report) => {
      if (message.type === "log") process.logs.push(message.line);
      else process.reports.push(message);
      for (const wake of process.waiters.splice(0)) wake();
    });
    child.once("exit", () => {
      for (const wake of process.waiters.splice(0)) wake();
    });
    this.#ranks.push(process);
  }

  #send(rank: number, command: Command): void {
    this.#ranks[rank]!.child.send(command);
  }

  /** Takes the first report matching `match` (waiting for it); a fatal report or exit rejects. */
  async #next(process: RankProcess, match: (report: Report) => boolean): Promise<Report> {
    for (;;) {
      const index = process.reports.findIndex((r) => match(r) || r.type === "fatal");
      if (index >= 0) {
        const [report] = process.reports.splice(index, 1);
        if (report!.type === "fatal") throw new Error(`rank process ${process.child.pid} failed: ${report!.message}`);
        return report!;
      }
      if (process.child.exitCode !== null || process.child.signalCode !== null) throw new Error(`rank process ${process.child.pid} exited (${process.child.exitCode ?? process.child.signalCode})`);
      await new Promise<void>((resolve) => process.waiters.push(resolve));
    }
  }
}
