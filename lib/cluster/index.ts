/** Worker clusters: launch, run code, supervise. */
export { launchCluster, type LaunchClusterOptions } from "./launch-cluster.js";
export { Cluster, type WorkerContext, type RunOptions } from "./cluster.js";
export { EndpointUnreachableError } from "./endpoint-reachability.js";
export { ClusterClosedError, ClusterTaskError, RemoteTaskError, TaskInterruptedError, WorkerDiedError, type WorkerExit } from "./cluster-errors.js";
export type { ClusterDescription, ClusterPlacement, WorkerDescription } from "./describe.js";
export type { NetworkChoice } from "./network-interface.js";
export type { SlurmOptions } from "./slurm-options.js";
export type { DeviceOption } from "./devices.js";
export type { WorkerLauncher, WorkerStartRequest } from "./worker-launcher.js";
export { LocalLauncher } from "./local-launcher.js";
export { SlurmLauncher, type SlurmLauncherOptions } from "./slurm-launcher.js";
export { SlurmCommandError, type SlurmNode } from "./slurm-commands.js";
export type { Collectives, ReduceOp } from "../collectives/index.js";
