/**
 * `launchCluster`: checks the options (a bad value is an error naming it, before any process
 * starts), starts the workers and, inside a notebook host, connects the cluster to the host's
 * interrupt and `%%workers` cell magic.
 */
import { resolve } from "node:path";
import { parseBackendPreference, type BackendPreference } from "../backend/backend-preference.js";
import { RingbookError } from "../errors.js";
import { Cluster, type ClusterSettings } from "./cluster.js";
import { parseDeviceOption, type DeviceOption } from "./devices.js";
import { attachToNotebookHost, closeOnHostShutdown } from "./notebook-hooks.js";
import { parseLinkEncryption, type LinkEncryption } from "./link-encryption.js";
import { LocalLauncher } from "./local-launcher.js";
import type { SlurmLauncher } from "./slurm-launcher.js";
import { parseWorkerCount } from "./worker-handle.js";
import { isWorkerLauncher, type WorkerLauncher } from "./worker-launcher.js";

/** Options of {@link launchCluster}. */
export interface LaunchClusterOptions {
  /** Number of worker processes. */
  workers: number;
  /** `"auto"` (one GPU per worker when `nvidia-smi` lists GPUs, else CPU), `"cpu"`, or GPU indices. @default "auto" */
  devices?: DeviceOption;
  /** tfjs backend: `"auto"` picks tensorflow-gpu, tensorflow, wasm, cpu in that order. @default "auto" */
  backend?: BackendPreference;
  /** `"ipc"` (unix sockets in a 0700 directory) or `"tcp"`. @default "ipc" */
  transport?: "ipc" | "tcp";
  /** Interface tcp sockets bind to. @default "127.0.0.1" */
  host?: string;
  /**
   * `"curve"`: every link (the control channel and the peer mesh, both directions) is encrypted
   * and authenticated with CURVE keys made for this cluster. `"none"`: links are authenticated by
   * a password but travel in clear; on tcp it logs a warning, and is meant only for measuring
   * CURVE's cost on a trusted network. ipc links live in a directory only the user can open.
   * @default "curve" on tcp, "none" on ipc
   */
  linkEncryption?: LinkEncryption;
  /** Working directory of the workers (imports in tasks resolve from here). @default process.cwd() */
  cwd?: string;
  /** Extra environment variables for the workers. @default {} */
  env?: Record<string, string>;
  /** @default 60000 */
  launchTimeoutMs?: number;
  /** @default 250 */
  heartbeatIntervalMs?: number;
  /** A worker silent for this long is killed and reported dead. @default 10000 */
  heartbeatTimeoutMs?: number;
  /** Where the cluster's own log lines go. @default process.stderr */
  log?: (line: string) => void;
  /**
   * Starts the workers: a {@link LocalLauncher} (child processes here) or a {@link SlurmLauncher}
   * (job steps in a Slurm allocation; use `transport: "tcp"` and a `host` the nodes reach). The
   * cluster owns it: `close()` closes it, a Slurm allocation it made included.
   * @default new LocalLauncher()
   */
  launcher?: WorkerLauncher;
}

function positive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw new RingbookError("ERR_BAD_OPTION", `${name} must be a positive number of milliseconds, got ${JSON.stringify(value)}`);
  return value;
}

/** Every option {@link launchCluster} takes (the README's table lists the same). */
export const launchClusterOptionNames = ["workers", "devices", "backend", "transport", "host", "linkEncryption", "cwd", "env", "launchTimeoutMs", "heartbeatIntervalMs", "heartbeatTimeoutMs", "log", "launcher"] as const satisfies ReadonlyArray<keyof LaunchClusterOptions>;

/** Fails to compile when an option of {@link LaunchClusterOptions} is missing from {@link launchClusterOptionNames}. */
const everyOptionListed: Exclude<keyof LaunchClusterOptions, (typeof launchClusterOptionNames)[number]> extends never ? true : false = true;
void everyOptionListed;

/** Checks options; throws {@link RingbookError} `ERR_BAD_OPTION` naming the bad one. */
export function parseLaunchOptions(options: LaunchClusterOptions): { workers: number; settings: ClusterSettings } {
  if (typeof options !== "object" || options === null) throw new RingbookError("ERR_BAD_OPTION", `launchCluster expects an options object such as { workers: 2 }, got ${JSON.stringify(options)}`);
  const known: ReadonlySet<string> = new Set(launchClusterOptionNames);
  for (const key of Object.keys(options)) if (!known.has(key)) throw new RingbookError("ERR_BAD_OPTION", `unknown launchCluster option ${JSON.stringify(key)} (known: ${[...known].join(", ")})`);
  const transport = options.transport ?? "ipc";
  if (transport !== "ipc" && transport !== "tcp") throw new RingbookError("ERR_BAD_OPTION", `transport must be "ipc" or "tcp", got ${JSON.stringify(transport)}`);
  const host = options.host ?? "127.0.0.1";
  if (typeof host !== "string" || host.length === 0) throw new RingbookError("ERR_BAD_OPTION", `host must be an interface address such as "127.0.0.1", got ${JSON.stringify(host)}`);
  const linkEncryption = parseLinkEncryption(options.linkEncryption, transport);
  const env = options.env ?? {};
  if (typeof env !== "object" || env === null || !Object.values(env).every((value) => typeof value === "string")) throw new RingbookError("ERR_BAD_OPTION", `env must map names to strings, got ${JSON.stringify(env)}`);
  const launcher = options.launcher ?? new LocalLauncher();
  if (!isWorkerLauncher(launcher)) throw new RingbookError("ERR_BAD_OPTION", `launcher must be a WorkerLauncher (kind, start, peerBindHost, describe, close), got ${JSON.stringify(launcher)}`);
  if (launcher.kind !== "local" && transport !== "tcp") throw new RingbookError("ERR_BAD_OPTION", `a ${launcher.kind} launcher starts workers on other hosts: use transport "tcp" (got ${JSON.stringify(transport)})`);
  const heartbeatIntervalMs = positive(options.heartbeatIntervalMs, "heartbeatIntervalMs", 250);
  const heartbeatTimeoutMs = positive(options.heartbeatTimeoutMs, "heartbeatTimeoutMs", 10_000);
  if (heartbeatTimeoutMs <= heartbeatIntervalMs * 2) throw new RingbookError("ERR_BAD_OPTION", `heartbeatTimeoutMs (${heartbeatTimeoutMs}) must exceed twice heartbeatIntervalMs (${heartbeatIntervalMs})`);
  return {
    workers: parseWorkerCount(options.workers),
    settings: {
      devices: parseDeviceOption(options.devices),
      backend: parseBackendPreference(options.backend ?? "auto"),
      transport,
      host,
      linkEncryption,
      cwd: resolve(options.cwd ?? process.cwd()),
      env,
      launchTimeoutMs: positive(options.launchTimeoutMs, "launchTimeoutMs", 60_000),
      heartbeatIntervalMs,
      heartbeatTimeoutMs,
      log: options.log ?? ((line) => process.stderr.write(`[ringbook] ${line}\n`)),
      launcher,
    },
  };
}

/**
 * Starts a cluster of worker processes and resolves when every worker is ready (tfjs loaded).
 * @example
 * const cluster = await launchCluster({ workers: 2 });
 * cluster.describe();
 * const backends = await cluster.run(({ tf }) => tf.getBackend());
 * await cluster.close();
 */
export async function launchCluster(options: LaunchClusterOptions): Promise<Cluster> {
  let parsed: ReturnType<typeof parseLaunchOptions>;
  try {
    parsed = parseLaunchOptions(options);
  } catch (error) {
    // The cluster owns its launcher from the call on: a Slurm allocation is not left behind by a typo.
    if (isWorkerLauncher(options?.launcher)) await options.launcher.close();
    throw error;
  }
  const { workers, settings } = parsed;
  // Registered for the host's shutdown before any worker starts: a kernel shut down mid-launch
  // (e.g. a timed-out cell) still closes the workers and sockets this launch opened.
  const cluster = await Cluster.start(workers, settings, closeOnHostShutdown);
  attachToNotebookHost(cluster);
  return cluster;
}
