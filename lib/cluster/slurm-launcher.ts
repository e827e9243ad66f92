/**
 * Workers as Slurm job steps: one allocation (made here with `salloc --no-shell`, or the one this
 * process runs in), one `srun` step per rank pinned to its node. The step's srun is the child the
 * cluster owns: its stdin reaches the worker (the bootstrap, so the cluster secret never shows in
 * argv, the environment or Slurm's job records; srun forwards stdin across the network in clear,
 * so the line is sealed with munge first, see munge-seal.ts), and SIGKILL of it ends the step within a fraction
 * of a second (../shared/multihost/README.md, Q4). srun runs in its own session, so a signal to
 * the owner's process group leaves its helper able to cancel the step. A rank restarted is a new
 * step in the same allocation. `close()` cancels an allocation the launcher made; one whose owner
 * was SIGKILLed is cancelled at once by its reaper (slurm-allocation-reaper.ts), or, if that died
 * too, by the next launcher on the same Slurm cluster (see slurm-allocation-records.ts).
 * `launchCluster({ slurm: {...} })` makes one for you.
 *
 * @example
 * const launcher = await SlurmLauncher.open({ nodes: 4 });
 * const cluster = await launchCluster({ launcher, networkInterface: "eth0" });
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { RingbookError } from "../errors.js";
import { parseMungeSocket, sealWithMunge } from "./munge-seal.js";
import { cancelOrphanedAllocations, defaultAllocationRecordDir, forgetAllocation, parseClusterName, recordAllocation } from "./slurm-allocation-records.js";
import { parseAllocationId, parseHostnames, parseNodeAddresses, runSlurmCommand, SlurmCommandError, type SlurmNode } from "./slurm-commands.js";
import type { DeviceAssignment, DeviceOption } from "./devices.js";
import { SlurmPendingWatch } from "./slurm-pending-watch.js";
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
  /** GPUs per rank, asked of the allocation and of every step (`--gpus-per-task`). @default none */
  gpusPerTask?: number;
  /** Environment of Slurm's commands and of srun (SLURM_CONF, ...). @default process.env */
  env?: NodeJS.ProcessEnv;
  /**
   * Where allocations made here are recorded until cancelled, so that the next launcher cancels
   * those of an owner that was SIGKILLed. @default ~/.cache/ringbook/slurm-allocations
   */
  recordDir?: string;
  /** Bound on getting the allocation and reading its nodes. @default 60000 */
  allocateTimeoutMs?: number;
  /** Where the pending allocation's state and reason are reported. @default nowhere */
  log?: (line: string) => void;
  /** How often Slurm is asked why a new allocation is pending. @default 3000 */
  pendingPollMs?: number;
  signal?: AbortSignal;
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) throw new RingbookError("ERR_BAD_OPTION", `${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

/** salloc's arguments (after `--no-shell`) for a new allocation named `jobName`. */
export function allocationArgs(options: { nodes: number; tasksPerNode: number; partition?: string | undefined; time?: string | undefined; gpusPerTask?: number | undefined }, jobName: string): string[] {
  return [
    `--nodes=${options.nodes}`, `--ntasks-per-node=${options.tasksPerNode}`, `--job-name=${jobName}`,
    ...(options.partition === undefined ? [] : [`--partition=${options.partition}`]),
    ...(options.time === undefined ? [] : [`--time=${options.time}`]),
    ...(options.gpusPerTask === undefined ? [] : [`--gpus-per-task=${options.gpusPerTask}`]),
  ];
}

/** How long a restarted rank waits for its previous step to be gone (then srun waits, as before). */
const stepReleaseTimeoutMs = 10_000;
const stepReleasePollMs = 50;

/** The job name of rank `rank`'s step of incarnation `incarnation`. */
function stepName(rank: number, incarnation: number): string {
  return `ringbook-rank${rank}.${incarnation}`;
}

/** `squeue -s --format="%i %j"` lines: step id (`12.3`) and name. */
export function parseSteps(output: string): Array<{ id: string; name: string }> {
  const steps: Array<{ id: string; name: string }> = [];
  for (const line of output.split("\n")) {
    const match = /^\s*(\d+\.\d+)\s+(\S+)\s*$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) steps.push({ id: match[1], name: match[2] });
  }
  return steps;
}

/** srun's arguments for the step of one rank on `nodeName` in job `jobId`. */
export function stepArgs(jobId: string, nodeName: string, request: Pick<WorkerStartRequest, "rank" | "incarnation" | "cwd" | "command" | "args">, gpusPerTask: number | undefined): string[] {
  return [
    `--jobid=${jobId}`, "--nodes=1", "--ntasks=1", `--nodelist=${nodeName}`,
    // One CPU per step (not the whole node), so the ranks of a node run side by side.
    "--exact",
    ...(gpusPerTask === undefined ? [] : [`--gpus-per-task=${gpusPerTask}`]),
    "--kill-on-bad-exit=1", "--quiet", `--chdir=${request.cwd}`,
    `--job-name=${stepName(request.rank, request.incarnation)}`,
    request.command, ...request.args,
  ];
}

/**
 * Runs `salloc --no-shell` and resolves with the job id once granted. The id is known from the
 * "Pending" line on, so a timed-out or aborted request is cancelled, never left queued.
 */
function allocate(args: string[], env: NodeJS.ProcessEnv, signal: AbortSignal, pending: { log: (line: string) => void; pollMs: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("salloc", ["--no-shell", ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let watch: SlurmPendingWatch | undefined;
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      const pendingId = /Pending job allocation (\d+)/.exec(stderr)?.[1];
      if (pending !== undefined && pendingId !== undefined && watch === undefined) watch = new SlurmPendingWatch(pendingId, { env, log: pending.log, intervalMs: pending.pollMs });
    });
    const abort = (): void => void child.kill("SIGKILL");
    signal.addEventListener("abort", abort, { once: true });
    child.once("error", (error) => {
      watch?.close();
      signal.removeEventListener("abort", abort);
      reject(new SlurmCommandError(`salloc could not start: ${error.message} (is Slurm's client installed?)`, { cause: error }));
    });
    child.once("close", (code) => {
      watch?.close();
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

const reaperEntry = fileURLToPath(new URL("./slurm-allocation-reaper.js", import.meta.url));

/**
 * Starts the reaper of an allocation just made (see slurm-allocation-reaper.ts): in its own
 * session, so a signal to the owner's process group leaves it, and unreferenced, so it never
 * keeps the owner alive.
 */
function startReaper(jobId: string, jobName: string, record: { dir: string; clusterName: string }, env: NodeJS.ProcessEnv): ChildProcess {
  const reaper = spawn(process.execPath, [reaperEntry, jobId, jobName, record.dir, record.clusterName], { env, stdio: ["pipe", "ignore", "ignore"], detached: true });
  reaper.stdin?.on("error", () => undefined); // a reaper that died: the record remains the fallback
  reaper.unref();
  if (reaper.stdin instanceof Socket) reaper.stdin.unref();
  return reaper;
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

/** Tells a reaper that its allocation was cancelled by its owner, and waits (briefly) for it to exit. */
async function releaseReaper(reaper: ChildProcess): Promise<void> {
  if (reaper.exitCode !== null || reaper.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => reaper.once("exit", () => resolve()));
  reaper.stdin?.end("released\n");
  const timer = setTimeout(() => reaper.kill("SIGKILL"), 2000);
  await exited;
  clearTimeout(timer);
}

export class SlurmLauncher implements WorkerLauncher {
  readonly kind = "slurm";
  /** The allocation the steps run in. */
  readonly jobId: string;
  /** Its nodes, in Slurm's order. */
  readonly nodes: readonly SlurmNode[];
  readonly tasksPerNode: number;
  /** GPUs per rank asked of every step, if any. */
  readonly gpusPerTask: number | undefined;
  /** True when this launcher made the allocation (and so cancels it on close). */
  readonly ownsAllocation: boolean;
  /** Allocations of gone owners that this launcher cancelled before making its own. */
  readonly cancelledOrphans: readonly string[];
  readonly #env: NodeJS.ProcessEnv;
  /** munged's socket on this Slurm cluster (Slurm's AuthInfo), or null for munge's default. */
  readonly #mungeSocket: string | null;
  /** Where its own allocation is recorded (undefined for an adopted one). */
  readonly #record: { dir: string; clusterName: string } | undefined;
  /** Cancels the allocation if this process dies without closing the launcher. */
  readonly #reaper: ChildProcess | undefined;
  #closed: Promise<void> | undefined;

  private constructor(fields: { jobId: string; nodes: SlurmNode[]; tasksPerNode: number; gpusPerTask: number | undefined; env: NodeJS.ProcessEnv; mungeSocket: string | null; record: { dir: string; clusterName: string } | undefined; cancelledOrphans: string[]; reaper: ChildProcess | undefined }) {
    this.jobId = fields.jobId;
    this.nodes = fields.nodes;
    this.tasksPerNode = fields.tasksPerNode;
    this.gpusPerTask = fields.gpusPerTask;
    this.ownsAllocation = fields.record !== undefined;
    this.cancelledOrphans = fields.cancelledOrphans;
    this.#env = fields.env;
    this.#mungeSocket = fields.mungeSocket;
    this.#record = fields.record;
    this.#reaper = fields.reaper;
  }

  /** Makes (or adopts) the allocation and reads its nodes and their addresses. */
  static async open(options: SlurmLauncherOptions = {}): Promise<SlurmLauncher> {
    const env = options.env ?? process.env;
    const nodeCount = positiveInteger(options.nodes, "nodes", 1);
    const tasksPerNode = positiveInteger(options.tasksPerNode, "tasksPerNode", 1);
    const gpusPerTask = options.gpusPerTask === undefined ? undefined : positiveInteger(options.gpusPerTask, "gpusPerTask", 1);
    const timeout = AbortSignal.timeout(positiveInteger(options.allocateTimeoutMs, "allocateTimeoutMs", 60_000));
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    const config = await runSlurmCommand("scontrol", ["show", "config"], { env, signal });
    const mungeSocket = parseMungeSocket(config);
    const adopted = options.jobId ?? env["SLURM_JOB_ID"];
    if (adopted !== undefined) {
      const source = options.jobId !== undefined ? "jobId" : "the SLURM_JOB_ID this process runs in";
      const nodes = await readNodes(adopted, env, signal).catch((error: unknown) => {
        throw new SlurmCommandError(`cannot use Slurm job ${adopted} (${source}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      });
      return new SlurmLauncher({ jobId: adopted, nodes, tasksPerNode, gpusPerTask, env, mungeSocket, record: undefined, cancelledOrphans: [], reaper: undefined });
    }
    const clusterName = parseClusterName(config);
    if (clusterName === undefined) throw new SlurmCommandError("scontrol show config names no ClusterName");
    const record = { dir: options.recordDir ?? defaultAllocationRecordDir, clusterName };
    const cancelledOrphans = await cancelOrphanedAllocations(record.dir, clusterName, { env, signal });
    const jobName = `ringbook-${randomBytes(6).toString("hex")}`;
    const jobId = await allocate(allocationArgs({ nodes: nodeCount, tasksPerNode, partition: options.partition, time: options.time, gpusPerTask }, jobName), env, signal, options.log === undefined ? undefined : { log: options.log, pollMs: positiveInteger(options.pendingPollMs, "pendingPollMs", 3000) });
    recordAllocation(record.dir, { clusterName, jobId, jobName });
    const reaper = startReaper(jobId, jobName, record, env);
    try {
      return new SlurmLauncher({ jobId, nodes: await readNodes(jobId, env, signal), tasksPerNode, gpusPerTask, env, mungeSocket, record, cancelledOrphans, reaper });
    } catch (error) {
      await runSlurmCommand("scancel", [jobId], { env, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      forgetAllocation(record.dir, { clusterName, jobId });
      await releaseReaper(reaper);
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
    const env = { ...this.#env, ...request.env };
    // Slurm sets the step's GPUs; the owner's own CUDA_VISIBLE_DEVICES must not travel with srun.
    if (this.gpusPerTask !== undefined) delete env["CUDA_VISIBLE_DEVICES"];
    return spawn("srun", stepArgs(this.jobId, node.name, request, this.gpusPerTask), {
      env,
      stdio: ["pipe", "pipe", "pipe"],
      // Its own session: a signal to the owner's process group must not kill srun's helper child
      // too, which is what cancels the step when srun dies (README Q4: tasks survived that).
      detached: true,
    });
  }

  /**
   * SIGKILLs the task of rank `rank`'s incarnation `incarnation` through Slurm (`scancel
   * --signal=KILL` of its step). Its srun then sees the task end and exits, and the step is done at
   * once; when srun itself was SIGKILLed instead, Slurm took the step down only ~2.3 s later, and
   * a restarted rank's new step on that node waited for it ("Requested nodes are busy").
   */
  async killRemote(rank: number, incarnation: number): Promise<boolean> {
    const signal = AbortSignal.timeout(stepReleaseTimeoutMs);
    const step = await this.#stepOf(rank, incarnation, signal);
    if (step === undefined) return false;
    await runSlurmCommand("scancel", ["--quiet", "--signal=KILL", step.id], { env: this.#env, signal });
    return true;
  }

  /** The step of rank `rank`'s incarnation `incarnation`, if Slurm lists it now. */
  async #stepOf(rank: number, incarnation: number, signal: AbortSignal): Promise<{ id: string; name: string } | undefined> {
    const steps = parseSteps(await runSlurmCommand("squeue", ["-h", "-s", `--jobs=${this.jobId}`, "--format=%i %j"], { env: this.#env, signal }));
    const name = stepName(rank, incarnation);
    return steps.find((step) => step.name === name);
  }

  /**
   * Ends the step of rank `rank`'s incarnation `incarnation` if Slurm still lists it, and waits
   * until it does not (at most {@link stepReleaseTimeoutMs}): a new step on that node would get
   * "Requested nodes are busy" until then, and srun retries only seconds later (see killRemote).
   */
  async releaseRank(rank: number, incarnation: number): Promise<void> {
    const deadline = Date.now() + stepReleaseTimeoutMs;
    let cancelled = false;
    for (;;) {
      const signal = AbortSignal.timeout(Math.max(1000, deadline - Date.now()));
      const step = await this.#stepOf(rank, incarnation, signal);
      if (step === undefined || Date.now() >= deadline) return;
      if (!cancelled) {
        await runSlurmCommand("scancel", ["--quiet", step.id], { env: this.#env, signal });
        cancelled = true;
      }
      await new Promise((resolve) => setTimeout(resolve, stepReleasePollMs));
    }
  }

  /**
   * GPUs come from Slurm (`--gpus-per-task`, which sets the step's CUDA_VISIBLE_DEVICES), never
   * from the owner's machine; `devices: "cpu"` hides them.
   */
  deviceOf(_rank: number, option: DeviceOption): DeviceAssignment {
    if (option === "cpu" || this.gpusPerTask === undefined) return { gpu: null, env: { CUDA_VISIBLE_DEVICES: "" } };
    return { gpu: 0, env: {} };
  }

  slurmPlacement(rank: number): { jobId: string; nodeName: string } {
    return { jobId: this.jobId, nodeName: this.nodeOf(rank).name };
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
    try {
      await runSlurmCommand("scancel", [this.jobId], { env: this.#env, signal: AbortSignal.timeout(30_000) });
      forgetAllocation(record.dir, { clusterName: record.clusterName, jobId: this.jobId });
    } catch (error) {
      // Not cancelled here: the reaper, its pipe ended without "released", tries once more.
      this.#reaper?.stdin?.end();
      throw error;
    }
    if (this.#reaper !== undefined) await releaseReaper(this.#reaper);
  }
}
