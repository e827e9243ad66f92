/**
 * The `slurm` option of `launchCluster`: where and how big the allocation is. Checked at the
 * boundary like every option: an unknown key is refused with the list of valid ones (a typo such
 * as `node: 4` must not silently give one node), a bad value is refused naming it.
 */
import { RingbookError } from "../errors.js";
import { isJsonObject, quote } from "../json-guards.js";

/** The `slurm` option of `launchCluster`. */
export interface SlurmOptions {
  /** An allocation to start the steps in. @default the SLURM_JOB_ID the kernel runs in, else a new allocation */
  jobId?: string;
  /** Nodes of a new allocation. @default 1 (an adopted allocation: all its nodes) */
  nodes?: number;
  /** Ranks per node: rank r runs on node floor(r / tasksPerNode). @default 1 */
  tasksPerNode?: number;
  /** Partition of a new allocation. @default Slurm's default partition */
  partition?: string;
  /** Time limit of a new allocation, in Slurm's format ("2:00:00"). @default the partition's */
  time?: string;
  /** GPUs per rank: `--gpus-per-task` of the allocation and of every step. @default none */
  gpusPerTask?: number;
  /** Environment of Slurm's commands (SLURM_CONF, ...). @default process.env */
  env?: Record<string, string>;
  /** Where allocations made here are recorded until cancelled. @default ~/.cache/ringbook/slurm-allocations */
  recordDir?: string;
  /** Bound on getting the allocation (a pending job included) and reading its nodes. @default 60000 */
  allocateTimeoutMs?: number;
}

const slurmOptionNames = ["jobId", "nodes", "tasksPerNode", "partition", "time", "gpusPerTask", "env", "recordDir", "allocateTimeoutMs"] as const;

function positiveInteger(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) throw new RingbookError("ERR_BAD_OPTION", `slurm.${name} must be a positive integer, got ${quote(value)}`);
  return value;
}

function nonEmptyText(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") throw new RingbookError("ERR_BAD_OPTION", `slurm.${name} must be a non-empty string, got ${quote(value)}`);
  return value;
}

/** Checks the `slurm` option; throws `ERR_BAD_OPTION` naming an unknown key or a bad value. */
export function parseSlurmOptions(value: unknown): SlurmOptions {
  if (!isJsonObject(value)) throw new RingbookError("ERR_BAD_OPTION", `slurm must be an object such as { nodes: 2 }, got ${quote(value)}`);
  const known: readonly string[] = slurmOptionNames;
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new RingbookError("ERR_BAD_OPTION", `unknown slurm option ${JSON.stringify(key)} (known: ${known.join(", ")})`);
  }
  const env = value["env"];
  if (env !== undefined && (!isJsonObject(env) || !Object.values(env).every((item) => typeof item === "string"))) throw new RingbookError("ERR_BAD_OPTION", `slurm.env must map names to strings, got ${quote(env)}`);
  const jobId = nonEmptyText(value["jobId"], "jobId");
  if (jobId !== undefined && !/^\d+$/.test(jobId)) throw new RingbookError("ERR_BAD_OPTION", `slurm.jobId must be a Slurm job id such as "1234", got ${quote(jobId)}`);
  const parsed: SlurmOptions = {};
  const set = <Key extends keyof SlurmOptions>(key: Key, field: SlurmOptions[Key] | undefined): void => {
    if (field !== undefined) parsed[key] = field;
  };
  set("jobId", jobId);
  set("nodes", positiveInteger(value["nodes"], "nodes"));
  set("tasksPerNode", positiveInteger(value["tasksPerNode"], "tasksPerNode"));
  set("partition", nonEmptyText(value["partition"], "partition"));
  set("time", nonEmptyText(value["time"], "time"));
  set("gpusPerTask", positiveInteger(value["gpusPerTask"], "gpusPerTask"));
  // Copied entry by entry: only strings reach the environment of Slurm's commands.
  set("env", env === undefined ? undefined : Object.fromEntries(Object.entries(env).map(([name, item]) => [name, String(item)])));
  set("recordDir", nonEmptyText(value["recordDir"], "recordDir"));
  set("allocateTimeoutMs", positiveInteger(value["allocateTimeoutMs"], "allocateTimeoutMs"));
  return parsed;
}
