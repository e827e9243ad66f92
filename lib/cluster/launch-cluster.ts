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
import { interfaceFromOption, interfaceTowards, loopbackChoice, readInterfaceTable, type NetworkChoice } from "./network-interface.js";
import { SlurmLauncher } from "./slurm-launcher.js";
import { parseSlurmOptions, type SlurmOptions } from "./slurm-options.js";
import { parseWorkerCount } from "./worker-handle.js";
import { isWorkerLauncher, type WorkerLauncher } from "./worker-launcher.js";

/** Options of {@link launchCluster}. */
export interface LaunchClusterOptions {
  /** Number of worker processes. @default with `slurm` (or a SlurmLauncher): nodes x tasksPerNode; otherwise required */
  workers?: number;
  /**
   * Workers as Slurm job steps, one per rank, in an allocation made now (`salloc --no-shell`,
   * cancelled by `close()`) or adopted (`jobId`, or the `SLURM_JOB_ID` the kernel runs in).
   * While the allocation is pending, its reason is logged to the cell every few seconds.
   * @example { nodes: 4, tasksPerNode: 1, partition: "gpu", time: "2:00:00", gpusPerTask: 1 }
   */
  slurm?: SlurmOptions;
  /** `"auto"` (one GPU per worker when `nvidia-smi` lists GPUs, else CPU), `"cpu"`, or GPU indices. @default "auto" */
  devices?: DeviceOption;
  /** tfjs backend: `"auto"` picks tensorflow-gpu, tensorflow, wasm, cpu in that order. @default "auto" */
  backend?: BackendPreference;
  /** `"ipc"` (unix sockets in a 0700 directory) or `"tcp"`. @default "ipc" here, "tcp" for workers on other hosts */
  transport?: "ipc" | "tcp";
  /**
   * The owner's interface that tcp sockets bind to and workers connect to: a name ("eth0") or one
   * of its IPv4 addresses. `describe()` shows the choice and why.
   * @default "lo" (127.0.0.1) for local workers; for Slurm, the interface towards the first allocated node
   */
  networkInterface?: string;
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
   * (job steps in a Slurm allocation; the `slurm` option makes one for you). The
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

/** The options once checked; the launcher and the interface are settled at launch. */
export interface ParsedLaunchOptions {
  workers: number | undefined;
  slurm: SlurmOptions | undefined;
  networkInterface: string | undefined;
  launcher: WorkerLauncher | undefined;
  settings: Omit<ClusterSettings, "launcher" | "network">;
}

/** Every option {@link launchCluster} takes (the README's table lists the same). */
export const launchClusterOptionNames = ["workers", "slurm", "devices", "backend", "transport", "networkInterface", "linkEncryption", "cwd", "env", "launchTimeoutMs", "heartbeatIntervalMs", "heartbeatTimeoutMs", "log", "launcher"] as const satisfies ReadonlyArray<keyof LaunchClusterOptions>;

/** Fails to compile when an option of {@link LaunchClusterOptions} is missing from {@link launchClusterOptionNames}. */
const everyOptionListed: Exclude<keyof LaunchClusterOptions, (typeof launchClusterOptionNames)[number]> extends never ? true : false = true;
void everyOptionListed;

/** Checks options; throws {@link RingbookError} `ERR_BAD_OPTION` naming the bad one. Starts nothing. */
export function parseLaunchOptions(options: LaunchClusterOptions): ParsedLaunchOptions {
  if (typeof options !== "object" || options === null) throw new RingbookError("ERR_BAD_OPTION", `launchCluster expects an options object such as { workers: 2 }, got ${JSON.stringify(options)}`);
  const knownOptions: readonly string[] = launchClusterOptionNames;
  for (const key of Object.keys(options)) {
    // `host` was this option's name before the interface could be named.
    const hint = key === "host" ? ' (the interface is now chosen with networkInterface: a name such as "eth0" or an address)' : "";
    if (!knownOptions.includes(key)) throw new RingbookError("ERR_BAD_OPTION", `unknown launchCluster option ${JSON.stringify(key)}${hint} (known: ${knownOptions.join(", ")})`);
  }
  const slurm = options.slurm === undefined ? undefined : parseSlurmOptions(options.slurm);
  const launcher = options.launcher;
  if (launcher !== undefined && !isWorkerLauncher(launcher)) throw new RingbookError("ERR_BAD_OPTION", `launcher must be a WorkerLauncher (kind, start, peerBindHost, describe, close), got ${JSON.stringify(launcher)}`);
  if (launcher !== undefined && slurm !== undefined) throw new RingbookError("ERR_BAD_OPTION", "give either slurm (a launcher made for you) or launcher, not both");
  const remote = slurm !== undefined || (launcher !== undefined && launcher.kind !== "local");
  const transport = options.transport ?? (remote ? "tcp" : "ipc");
  if (transport !== "ipc" && transport !== "tcp") throw new RingbookError("ERR_BAD_OPTION", `transport must be "ipc" or "tcp", got ${JSON.stringify(transport)}`);
  if (remote && transport !== "tcp") throw new RingbookError("ERR_BAD_OPTION", `a ${launcher?.kind ?? "slurm"} launcher starts workers on other hosts: use transport "tcp" (got ${JSON.stringify(transport)})`);
  const linkEncryption = parseLinkEncryption(options.linkEncryption, transport);
  const networkInterface = options.networkInterface;
  if (networkInterface !== undefined && (typeof networkInterface !== "string" || networkInterface.length === 0)) throw new RingbookError("ERR_BAD_OPTION", `networkInterface must be an interface name such as "eth0" or an address such as "10.0.0.5", got ${JSON.stringify(networkInterface)}`);
  let workers: number | undefined;
  // Slurm's launchers know their slots; any other needs the number.
  if (options.workers !== undefined || (slurm === undefined && !(launcher instanceof SlurmLauncher))) workers = parseWorkerCount(options.workers);
  if (slurm?.nodes !== undefined && workers !== undefined) {
    const slots = slurm.nodes * (slurm.tasksPerNode ?? 1);
    if (workers !== slots) throw new RingbookError("ERR_BAD_OPTION", `workers: ${workers} conflicts with slurm: { nodes: ${slurm.nodes}, tasksPerNode: ${slurm.tasksPerNode ?? 1} } (${slots} ranks); leave workers out to get ${slots}`);
  }
  const devices = parseDeviceOption(options.devices);
  if (slurm !== undefined && Array.isArray(devices)) throw new RingbookError("ERR_BAD_OPTION", `devices ${JSON.stringify(devices)} names GPUs of this machine; workers on Slurm nodes get theirs from slurm.gpusPerTask (devices: "auto" or "cpu")`);
  const env = options.env ?? {};
  if (typeof env !== "object" || env === null || !Object.values(env).every((value) => typeof value === "string")) throw new RingbookError("ERR_BAD_OPTION", `env must map names to strings, got ${JSON.stringify(env)}`);
  const heartbeatIntervalMs = positive(options.heartbeatIntervalMs, "heartbeatIntervalMs", 250);
  const heartbeatTimeoutMs = positive(options.heartbeatTimeoutMs, "heartbeatTimeoutMs", 10_000);
  if (heartbeatTimeoutMs <= heartbeatIntervalMs * 2) throw new RingbookError("ERR_BAD_OPTION", `heartbeatTimeoutMs (${heartbeatTimeoutMs}) must exceed twice heartbeatIntervalMs (${heartbeatIntervalMs})`);
  return {
    workers,
    slurm,
    networkInterface,
    launcher,
    settings: {
      devices,
      backend: parseBackendPreference(options.backend ?? "auto"),
      transport,
      linkEncryption,
      cwd: resolve(options.cwd ?? process.cwd()),
      env,
      launchTimeoutMs: positive(options.launchTimeoutMs, "launchTimeoutMs", 60_000),
      heartbeatIntervalMs,
      heartbeatTimeoutMs,
      log: options.log ?? ((line) => process.stderr.write(`[ringbook] ${line}\n`)),
    },
  };
}

/**
 * The interface workers reach the owner on: the option's, else loopback for local workers, else
 * the one towards the node of rank 0 (the first allocated node).
 */
function chooseNetwork(option: string | undefined, launcher: WorkerLauncher): NetworkChoice {
  const table = readInterfaceTable();
  if (option !== undefined) return interfaceFromOption(option, table);
  const firstNode = launcher.peerBindHost(0);
  if (firstNode === undefined) return loopbackChoice;
  const name = launcher instanceof SlurmLauncher ? launcher.nodeOf(0).name : "the node of rank 0";
  return interfaceTowards(firstNode, `${name}, the first allocated node`, table);
}

/** The world size: as asked, or every slot of a Slurm allocation; refused where it does not fit. */
function worldSizeFor(workers: number | undefined, launcher: WorkerLauncher): number {
  if (!(launcher instanceof SlurmLauncher)) return parseWorkerCount(workers);
  const slots = launcher.nodes.length * launcher.tasksPerNode;
  if (workers === undefined) return slots;
  if (workers > slots) throw new RingbookError("ERR_BAD_OPTION", `workers: ${workers} does not fit Slurm job ${launcher.jobId} (${launcher.nodes.length} nodes x ${launcher.tasksPerNode} tasks per node = ${slots} ranks)`);
  return workers;
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
  let parsed: ParsedLaunchOptions;
  try {
    parsed = parseLaunchOptions(options);
  } catch (error) {
    // The cluster owns its launcher from the call on: a Slurm allocation is not left behind by a typo.
    if (isWorkerLauncher(options?.launcher)) await options.launcher.close();
    throw error;
  }
  const { slurm, settings } = parsed;
  const launcher =
    parsed.launcher ??
    (slurm === undefined ? new LocalLauncher() : await SlurmLauncher.open({ ...slurm, env: { ...process.env, ...slurm.env }, log: settings.log }));
  let workers: number;
  let network: NetworkChoice;
  try {
    workers = worldSizeFor(parsed.workers, launcher);
    network = settings.transport === "tcp" || parsed.networkInterface !== undefined ? chooseNetwork(parsed.networkInterface, launcher) : { address: "127.0.0.1", interfaceName: undefined, reason: "ipc: unix sockets, no interface" };
  } catch (error) {
    await launcher.close();
    throw error;
  }
  // Registered for the host's shutdown before any worker starts: a kernel shut down mid-launch
  // (e.g. a timed-out cell) still closes the workers and sockets this launch opened.
  const cluster = await Cluster.start(workers, { ...settings, launcher, network }, closeOnHostShutdown);
  attachToNotebookHost(cluster);
  return cluster;
}
