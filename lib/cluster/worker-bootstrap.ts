/**
 * What a worker process is told at start, on its stdin (one JSON line, so the secret never shows
 * in argv or the environment). Parsed and checked like any input from outside.
 */
import { parseBackendPreference, type BackendPreference } from "../backend/backend-preference.js";
import { RingbookError } from "../errors.js";
import { isRank, type Rank } from "../ids.js";
import { isJsonObject, quote } from "../json-guards.js";
import type { SlurmPlacement } from "./slurm-step-environment.js";

/** A worker's start-up parameters. */
export interface WorkerBootstrap {
  clusterId: string;
  rank: Rank;
  incarnation: number;
  worldSize: number;
  /** The owner's control socket. */
  controlEndpoint: string;
  /** Hex form of the cluster secret. */
  secretHex: string;
  backend: BackendPreference;
  /** True when the owner gave this worker a GPU through CUDA_VISIBLE_DEVICES. */
  gpu: boolean;
  /** Working directory for relative imports in tasks and cells. */
  cwd: string;
  /** Where the owner started this rank as a Slurm step (checked against SLURM_*); absent elsewhere. */
  slurm?: SlurmPlacement;
}

/** Parses the bootstrap line. */
export function parseWorkerBootstrap(line: string): WorkerBootstrap {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new RingbookError("ERR_BAD_BOOTSTRAP", `worker bootstrap is not JSON: ${(error as Error).message}`);
  }
  return parseWorkerBootstrapValue(value);
}

/**
 * Checks a bootstrap that arrived as a value: the line once parsed, or what the supervisor hands
 * its execution thread as `workerData` (a structured clone across threads, checked again there).
 */
export function parseWorkerBootstrapValue(value: unknown): WorkerBootstrap {
  if (!isJsonObject(value)) throw new RingbookError("ERR_BAD_BOOTSTRAP", `worker bootstrap must be an object, got ${quote(value)}`);
  const fields = value;
  const text = (key: string): string => {
    const field = fields[key];
    if (typeof field !== "string" || field.length === 0) throw new RingbookError("ERR_BAD_BOOTSTRAP", `bootstrap field ${key} must be a non-empty string, got ${quote(key === "secretHex" ? typeof field : field)}`);
    return field;
  };
  const count = (key: string, min: number): number => {
    const field = fields[key];
    if (typeof field !== "number" || !Number.isSafeInteger(field) || field < min) throw new RingbookError("ERR_BAD_BOOTSTRAP", `bootstrap field ${key} must be an integer >= ${min}, got ${quote(field)}`);
    return field;
  };
  const rank = count("rank", 0);
  if (!isRank(rank)) throw new RingbookError("ERR_BAD_BOOTSTRAP", `bootstrap field rank must be a rank, got ${quote(rank)}`);
  const bootstrap: WorkerBootstrap = {
    clusterId: text("clusterId"),
    rank,
    incarnation: count("incarnation", 0),
    worldSize: count("worldSize", 1),
    controlEndpoint: text("controlEndpoint"),
    secretHex: text("secretHex"),
    backend: parseBackendPreference(fields["backend"]),
    gpu: fields["gpu"] === true,
    cwd: text("cwd"),
  };
  const slurm = fields["slurm"];
  if (slurm !== undefined) {
    if (!isJsonObject(slurm) || typeof slurm["jobId"] !== "string" || typeof slurm["nodeName"] !== "string") throw new RingbookError("ERR_BAD_BOOTSTRAP", `bootstrap field slurm must be { jobId, nodeName } strings, got ${quote(slurm)}`);
    bootstrap.slurm = { jobId: slurm["jobId"], nodeName: slurm["nodeName"] };
  }
  if (bootstrap.rank >= bootstrap.worldSize) throw new RingbookError("ERR_BAD_BOOTSTRAP", `rank ${bootstrap.rank} is outside world size ${bootstrap.worldSize}`);
  return bootstrap;
}
