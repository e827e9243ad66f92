/**
 * What a worker process is told at start, on its stdin (one JSON line, so the secret and the CURVE
 * keys never show in argv, the environment or Slurm's records). Parsed and checked like any input
 * from outside.
 */
import { parseBackendPreference, type BackendPreference } from "../backend/backend-preference.js";
import { RingbookError } from "../errors.js";
import { isRank, type Rank } from "../ids.js";
import { isJsonObject, quote } from "../json-guards.js";
import type { SlurmPlacement } from "./slurm-step-environment.js";
import { ClusterSecret } from "../transport/cluster-secret.js";
import { parseCurveKeys, type CurveKeys } from "../transport/curve-keys.js";
import type { LinkSecurity } from "../transport/link-security.js";

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
  /** The cluster's CURVE keys when its links are encrypted, else null (PLAIN with the secret's password). */
  curveKeys: CurveKeys | null;
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
    curveKeys: curveKeysField(fields["curveKeys"]),
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

/** The bootstrap's `curveKeys`: null (links not encrypted) or the keys; missing is an error, not a default. */
function curveKeysField(value: unknown): CurveKeys | null {
  if (value === null) return null;
  if (value === undefined) throw new RingbookError("ERR_BAD_BOOTSTRAP", "bootstrap field curveKeys must be null or the cluster's CURVE keys, got undefined");
  try {
    return parseCurveKeys(value);
  } catch (error) {
    throw new RingbookError("ERR_BAD_BOOTSTRAP", `bootstrap field curveKeys: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** How this worker's sockets authenticate: CURVE when the owner sent keys, else PLAIN with the secret's password. */
export function linkSecurityOf(bootstrap: WorkerBootstrap): LinkSecurity {
  if (bootstrap.curveKeys !== null) return { mechanism: "curve", keys: bootstrap.curveKeys };
  return { mechanism: "plain", password: ClusterSecret.fromHex(bootstrap.secretHex).socketPassword };
}
