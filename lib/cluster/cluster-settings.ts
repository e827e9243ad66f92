/** What a cluster is launched with (checked by parseLaunchOptions). */
import type { BackendPreference } from "../backend/backend-preference.js";
import type { DeviceOption } from "./devices.js";
import type { NetworkChoice } from "./network-interface.js";
import type { LinkEncryption } from "./link-encryption.js";
import type { WorkerLauncher } from "./worker-launcher.js";

/** Settings fixed at launch. */
export interface ClusterSettings {
  devices: DeviceOption;
  backend: BackendPreference;
  transport: "ipc" | "tcp";
  /** The owner's interface that tcp sockets bind to and workers connect to, and why. */
  network: NetworkChoice;
  /** CURVE or not on the links (parsed: tcp defaults to "curve", ipc to "none"). */
  linkEncryption: LinkEncryption;
  cwd: string;
  env: Record<string, string>;
  launchTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  log: (line: string) => void;
  /** Starts the worker processes; the cluster closes it when it closes. */
  launcher: WorkerLauncher;
}
