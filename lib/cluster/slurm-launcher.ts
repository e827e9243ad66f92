/**
 * Workers as Slurm job steps: one allocation (made here with `salloc --no-shell`, or the one this
 * process runs in), one `srun` step per rank pinned to its node. The step's srun is the child the
 * cluster owns: its stdin reaches the worker (the bootstrap, so the cluster secret never shows in
 * argv, the environment or Slurm's job records; srun forwards stdin across the network in clear,
 * so the line is sealed with munge first, see munge-seal.ts), and SIGKILL of it ends the step within a fraction
 * of a second (../shared/multihost/README.md, Q4). srun runs in its own session, so a signal to
 * the owner's process group leaves its helper able to cancel the step. A rank restarted is a new
 * step in the same allocation. `close()` cancels an allocation the launcher made; one whose owner
 * was SIGKILLed is cancelled by the next launcher on the same Slurm cluster (see
 * slurm-allocation-records.ts).
 *
 * @example
 * const launcher = await SlurmLauncher.open({ nodes: 4 });
 * const cluster = await launchCluster({ workers: 4, transport: "tcp", host: "10.0.0.5", launcher });
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { RingbookError } from "../errors.js";
import { parseMungeSocket, sealWithMunge } from "./munge-seal.js";
import { cancelOrphanedAllocations, defaultAllocationRecordDir, forgetAllocation, parseClusterName, recordAllocation } from "./slurm-allocation-records.js";
import { parseAllocationId, parseHostnames, parseNodeAddresses, runSlurmCommand, SlurmCommandError, type SlurmNode } from "./slurm-commands.js";
import type { WorkerLauncher, WorkerStartRequest } from "./worker-launcher.js";

/** Options of {@link SlurmLauncher.open}. */
export interface SlurmLauncherOptions {
  /** An allocation to start the steps in. @default the SLURM_JOB_ID this process runs in, else a new allocation */
  jobId?: string;
  /** Nodes of a new allocation. @default 1 */
  nodes?: number;
  /** Ranks per node: rank r runs on node floor(r / tasksPerNode). @default 1 */
  tasksPerNode?: number;
  /** Partition of a new allocation. @default Slurm's default partition */
  partition?: string;
  /** Time limit of a new allocation, in Slurm's format ("2:00:00"). @default the partition's */
  time?: string;
  /** Environment of Slurm's commands and of srun (SLURM_CONF, ...). @default process.env */
  env?: NodeJS.ProcessEnv;
  /**
   * Where allocations made here are recorded until cancelled, so that the next launcher cancels
   * those of an owner that was SIGKILLed. @default ~/.cache/ringbook/slurm-allocations
   */
  recordDir?: string;
  /** Bound on getting the allocation and reading its nodes. @default 60000 */
  allocateTimeoutMs?: number;
  signal?: AbortSignal;
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) throw new RingbookError("ERR_BAD_OPTION", `${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * Runs `salloc --no-shell` and resolves with the job id once granted. The id is known from the
 * "Pending" line on, so a timed-out or aborted request is cancelled, never left queued.
 */
function allocate(args: string[], env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("salloc", ["--no-shell", ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const abort = (): void => void child.kill("SIGKILL");
    signal.addEventListener("abort", abort, { once: true });
    child.once("error", (error) => {
      signal.removeEventListener("abort", abort);
      reject(new SlurmCommandError(`salloc could not start: ${error.message} (is Slurm's client installed?)`, { cause: error }));
    });
    child.once("close", (code) => {
      signal.removeEventListener("abort", abort);
      const jobId = parseAllocationId(stderr);
      if (code === 0 && jobId !== undefined && !signal.aborted) return resolve(jobId);
      const failure = new SlurmCommandError(`salloc --no-shell ${args.join(" ")} gave no allocation (${signal.aborted ? String(signal.reason) : `exit ${code}`}): ${stderr.trim() || "no message"}`);
      if (jobId === undefined) return reject(failure);
      void runSlurmCommand("scancel", [jobId], { env, signal: AbortSignal.timeout(10_000) }).then(
        () => reject(failure),
        (error: unknown) => reject(new SlurmCommandError(`${failure.message}; cancelling job ${jobId} failed too: ${String(error)}`)),
      );
    });
  });
}

/** The nodes of job `jobId`, in Slurm's order, with the addresses their slurmd's are reached at. */
async function readNodes(jobId: string, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<SlurmNode[]> {
  const nodeList = (await runSlurmCommand("squeue", ["-h", "-j", jobId, "-o", "%N"], { env, signal })).trim();
  if (nodeList === "") throw new SlurmCommandError(`Slurm job ${jobId} has no nodes (not running, or gone)`);
  const names = parseHostnames(await runSlurmCommand("scontrol", ["show", "hostnames", nodeList], { env, signal }));
  const addresses = parseNodeAddresses(await runSlurmCommand("sinfo", ["-h", "-N", "-o", "%N %o", "-n", nodeList], { env, signal }));
  return names.map((name) => {
    const address = addresses.get(name);
    if (address === undefined) throw new SlurmCommandError(`sinfo gave no address for node ${name} of job ${jobId} (nodes: ${nodeList})`);
    return { name, address };
  });
}

export class SlurmLauncher implements WorkerLauncher {
  readonly kind = "slurm";
  /** The allocation the steps run in. */
  readonly jobId: string;
  /** Its nodes, in Slurm's order. */
  readonly nodes: readonly SlurmNode[];
  readonly tasksPerNode: number;
  /** True when this launcher made the allocation (and so cancels it on close). */
  readonly ownsAllocation: boolean;
  /** Allocations of gone owners that this launcher cancelled before making its own. */
  readonly cancelledOrphans: readonly string[];
  readonly #env: NodeJS.ProcessEnv;
  /** munged's socket on this Slurm cluster (Slurm's AuthInfo), or null for munge's default. */
  readonly #mungeSocket: string | null;
  /** Where its own allocation is recorded (undefined for an adopted one). */
  readonly #record: { dir: string; clusterName: string } | undefined;
  #closed: Promise<void> | undefined;

  private constructor(fields: { jobId: string; nodes: SlurmNode[]; tasksPerNode: number; env: NodeJS.ProcessEnv; mungeSocket: string | null; record: { dir: string; clusterName: string } | undefined; cancelledOrphans: string[] }) {
    this.jobId = fields.jobId;
    this.nodes = fields.nodes;
    this.tasksPerNode = fields.tasksPerNode;
    this.ownsAllocation = fields.record !== undefined;
    this.cancelledOrphans = fields.cancelledOrphans;
    this.#env = fields.env;
    this.#mungeSocket = fields.mungeSocket;
    this.#record = fields.record;
  }

  /** Makes (or adopts) the allocation and reads its nodes and their addresses. */
  static async open(options: SlurmLauncherOptions = {}): Promise<SlurmLauncher> {
    const env = options.env ?? process.env;
    const nodeCount = positiveInteger(options.nodes, "nodes", 1);
    const tasksPerNode = positiveInteger(options.tasksPerNode, "tasksPerNode", 1);
    const timeout = AbortSignal.timeout(positiveInteger(options.allocateTimeoutMs, "allocateTimeoutMs", 60_000));
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    const config = await runSlurmCommand("scontrol", ["show", "config"], { env, signal });
    const mungeSocket = parseMungeSocket(config);
    const adopted = options.jobId ?? env["SLURM_JOB_ID"];
    if (adopted !== undefined) {
      return new SlurmLauncher({ jobId: adopted, nodes: await readNodes(adopted, env, signal), tasksPerNode, env, mungeSocket, record: undefined, cancelledOrphans: [] });
    }
    const clusterName = parseClusterName(config);
    if (clusterName === undefined) throw new SlurmCommandError("scontrol show config names no ClusterName");
    const record = { dir: options.recordDir ?? defaultAllocationRecordDir, clusterName };
    const cancelledOrphans = await cancelOrphanedAllocations(record.dir, clusterName, { env, signal });
    const jobName = `ringbook-${randomBytes(6).toString("hex")}`;
    const jobId = await allocate(
      [`--nodes=${nodeCount}`, `--ntasks-per-node=${tasksPerNode}`, `--job-name=${jobName}`,
        ...(options.partition === undefined ? [] : [`--partition=${options.partition}`]),
        ...(options.time === undefined ? [] : [`--time=${options.time}`])],
      env, signal,
    );
    recordAllocation(record.dir, { clusterName, jobId, jobName });
    try {
      return new SlurmLauncher({ jobId, nodes: await readNodes(jobId, env, signal), tasksPerNode, env, mungeSocket, record, cancelledOrphans });
    } catch (error) {
      await runSlurmCommand("scancel", [jobId], { env, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      forgetAllocation(record.dir, { clusterName, jobId });
      throw error;
    }
  }

  /** The node rank `rank` runs on; throws where the allocation has no room for it. */
  nodeOf(rank: number): SlurmNode {
    const node = this.nodes[Math.floor(rank / this.tasksPerNode)];
    if (node === undefined) {
      throw new RingbookError("ERR_SLURM_PLACEMENT", `rank ${rank} does not fit Slurm job ${this.jobId}: ${this.nodes.length} nodes x ${this.tasksPerNode} tasks per node hold ranks 0-${this.nodes.length * this.tasksPerNode - 1}`);
    }
    return node;
  }

  start(request: WorkerStartRequest): ChildProcess {
    if (this.#closed !== undefined) throw new RingbookError("ERR_LAUNCHER_CLOSED", `the Slurm launcher of job ${this.jobId} is closed; rank ${request.rank} was not started`);
    const node = this.nodeOf(request.rank);
    const args = [
      `--jobid=${this.jobId}`, "--nodes=1", "--ntasks=1", `--nodelist=${node.name}`,
      // One CPU per step (not the whole node), so the ranks of a node run side by side.
      "--exact",
      "--kill-on-bad-exit=1", "--quiet", `--chdir=${request.cwd}`,
      `--job-name=ringbook-rank${request.rank}.${request.incarnation}`,
      request.command, ...request.args,
    ];
    return spawn("srun", args, {
      env: { ...this.#env, ...request.env },
      stdio: ["pipe", "pipe", "pipe"],
      // Its own session: a signal to the owner's process group must not kill srun's helper child
      // too, which is what cancels the step when srun dies (README Q4: tasks survived that).
      detached: true,
    });
  }

  /** srun forwards stdin over the network in clear: the bootstrap goes as a munge credential only this user can decode. */
  sealBootstrap(line: string): Promise<string> {
    return sealWithMunge(line, { socket: this.#mungeSocket, env: this.#env });
  }

  peerBindHost(rank: number): string {
    return this.nodeOf(rank).address;
  }

  describe(): string {
    return `Slurm job ${this.jobId} on ${this.nodes.map((node) => node.name).join(", ")}`;
  }

  /** Cancels the allocation if this launcher made it (the workers' steps with it), and forgets it. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#cancelOwnAllocation();
    return this.#closed;
  }

  async #cancelOwnAllocation(): Promise<void> {
    const record = this.#record;
    if (record === undefined) return;
    await runSlurmCommand("scancel", [this.jobId], { env: this.#env, signal: AbortSignal.timeout(30_000) });
    forgetAllocation(record.dir, { clusterName: record.clusterName, jobId: this.jobId });
  }
}
