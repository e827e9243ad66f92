/** The kernel server: start it with an executor, or run it as a process. */
export { startKernel, type KernelOptions, type RunningKernel } from "./kernel-server.js";
export { runKernelProcess, type KernelProcessOptions } from "./kernel-process.js";
export { historyFilePath, jupyterDataDir } from "./jupyter-paths.js";
export type { KernelIdentity } from "./kernel-info.js";
