/**
 * How worker processes get started: the seam between a cluster and where its workers run. The
 * local launcher starts them as child processes of the owner; the Slurm launcher as job steps in
 * an allocation, one per rank, on the cluster's nodes. Either way the owner gets a child process
 * whose stdin reaches the worker (the bootstrap line, then the pipe that keeps it alive), whose
 * stdout and stderr are the worker's, and whose exit is the worker's end.
 */
import type { ChildProcess } from "node:child_process";
import { isJsonObject } from "../json-guards.js";
import type { DeviceAssignment, DeviceOption } from "./devices.js";

/** What a launcher needs to start the process of one rank. */
export interface WorkerStartRequest {
  rank: number;
  incarnation: number;
  worldSize: number;
  /** The program (Node) and its arguments (flags and the worker's entry script). */
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface WorkerLauncher {
  /** `"local"`, `"slurm"`, ... for `describe()` and messages. */
  readonly kind: string;
  /**
   * Starts rank `request.rank`, with stdin, stdout and stderr as pipes. Killing the returned
   * process (SIGKILL) must end the worker within a second; closing its stdin ends it too.
   */
  start(request: WorkerStartRequest): ChildProcess;
  /**
   * The address rank `rank`'s peer socket binds to over tcp (the address of the host it runs on),
   * or undefined for the owner's network interface.
   */
  peerBindHost(rank: number): string | undefined;
  /**
   * Rank `rank`'s GPU where the launcher, not this machine, decides (Slurm's `--gpus-per-task`):
   * `gpu` null for none, and what to add to its environment. Absent: GPUs of this machine.
   */
  deviceOf?(rank: number, option: DeviceOption): DeviceAssignment;
  /** Where rank `rank` runs as a Slurm step (its worker checks its SLURM_* variables against it); absent for other launchers. */
  slurmPlacement?(rank: number): { jobId: string; nodeName: string };
  /**
   * Seals the bootstrap line (it holds the cluster secret and keys) for a trip across the network,
   * where the launcher's pipe to the worker is not private: the worker unseals the line it gets.
   * Absent where the pipe stays on this machine.
   */
  sealBootstrap?(line: string): Promise<string>;
  /**
   * Kills incarnation `incarnation` of rank `rank` where it runs (SIGKILL to a Slurm step's task),
   * so that the process {@link start} returned exits by itself and the launcher frees what the
   * worker held at once. Resolves with false where there was nothing to kill that way. The owner
   * SIGKILLs that process too if it has not exited a second later. Absent: the owner SIGKILLs it at once.
   */
  killRemote?(rank: number, incarnation: number): Promise<boolean>;
  /**
   * Resolves once what incarnation `incarnation` of rank `rank` held is released (a Slurm step's
   * CPUs), so that its next incarnation starts at once; called before a rank is started again.
   * Absent where nothing outlives a worker's process.
   */
  releaseRank?(rank: number, incarnation: number): Promise<void>;
  /** Where the workers run, in a few words (e.g. "Slurm job 12 on host[1-4]"). */
  describe(): string;
  /** Releases what the launcher holds (a Slurm allocation it made). Idempotent. */
  close(): Promise<void>;
}

/** True for a value that implements {@link WorkerLauncher} (checked where a user passes one). */
export function isWorkerLauncher(value: unknown): value is WorkerLauncher {
  return isJsonObject(value) && typeof value["kind"] === "string" && ["start", "peerBindHost", "describe", "close"].every((name) => typeof value[name] === "function");
}
