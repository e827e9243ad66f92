/**
 * A worker started as a Slurm step reads where Slurm says it runs (its SLURM_* variables) and
 * checks that against what its owner asked for in the bootstrap: the job, the node of its rank,
 * one task per step. A mismatch (a stale SLURM_JOB_ID, a step placed elsewhere) fails the
 * worker's start naming both values, instead of a rank running somewhere nobody expects.
 */
import { RingbookError } from "../errors.js";
import { quote } from "../json-guards.js";

/** Where the owner expects a rank's step: its job and node (in the bootstrap). */
export interface SlurmPlacement {
  jobId: string;
  nodeName: string;
}

/** What Slurm told the step, once checked. */
export interface SlurmStepEnvironment {
  jobId: string;
  stepId: string;
  nodeName: string;
  /** GPUs Slurm gave the job (SLURM_JOB_GPUS), or CUDA_VISIBLE_DEVICES; null when none. */
  gpus: string | null;
}

/** Reads and checks the step's SLURM_* variables; throws `ERR_SLURM_PLACEMENT` naming what differs. */
export function checkSlurmStepEnvironment(env: NodeJS.ProcessEnv, expected: SlurmPlacement): SlurmStepEnvironment {
  const read = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === "") throw new RingbookError("ERR_SLURM_PLACEMENT", `this worker was started as a step of Slurm job ${expected.jobId} on ${expected.nodeName}, but ${name} is not set: is it running under srun?`);
    return value;
  };
  const jobId = read("SLURM_JOB_ID");
  if (jobId !== expected.jobId) throw new RingbookError("ERR_SLURM_PLACEMENT", `SLURM_JOB_ID is ${quote(jobId)}, but the owner started this worker in Slurm job ${quote(expected.jobId)}`);
  const nodeName = read("SLURMD_NODENAME");
  if (nodeName !== expected.nodeName) throw new RingbookError("ERR_SLURM_PLACEMENT", `SLURMD_NODENAME is ${quote(nodeName)}, but the owner placed this rank on node ${quote(expected.nodeName)} of job ${expected.jobId}`);
  // One task per step: the rank is the owner's, so Slurm's own procid/ntasks must say 0 of 1.
  const procId = read("SLURM_PROCID");
  const tasks = env["SLURM_STEP_NUM_TASKS"] ?? read("SLURM_NTASKS");
  if (procId !== "0" || tasks !== "1") throw new RingbookError("ERR_SLURM_PLACEMENT", `Slurm says task ${quote(procId)} of ${quote(tasks)} in this step, but the owner starts one task per step (task "0" of "1")`);
  const gpus = env["SLURM_JOB_GPUS"] ?? env["CUDA_VISIBLE_DEVICES"] ?? null;
  return { jobId, stepId: read("SLURM_STEP_ID"), nodeName, gpus: gpus === "" ? null : gpus };
}
