import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { isJsonObject } from "../protocol/json-guards.js";
import { parseConnectionInfo } from "../protocol/connection-info.js";
import type { Executor } from "../execution/executor.js";
import { historyFilePath } from "./jupyter-paths.js";
import type { KernelIdentity } from "./kernel-info.js";
import { startKernel } from "./kernel-server.js";
import { StartingExecutor } from "./starting-executor.js";
import { watchParent } from "./parent-watch.js";

export interface KernelProcessOptions {
  connectionFile: string;
  /** Starts the executor the kernel will own. */
  startExecutor(log: (line: string) => void): Promise<Executor>;
  /** @default a line on stderr prefixed "[ringbook]" */
  log?: (line: string) => void;
}

/** How long after close() the process may linger on handles someone forgot before it exits anyway. */
const EXIT_GRACE_MS = 2000;

/**
 * Runs a kernel as the process's purpose: reads the connection file, starts the server, then the
 * executor (requests that need it wait for it). Protocol first: on two cores, booting the cell
 * worker (~60 ms of CPU) while this thread loads ZeroMQ and binds delayed the first
 * kernel_info_reply by ~20 ms; started after the bind, the worker boots while the front end
 * connects. Turns SIGINT into an interrupt and SIGTERM into a clean close, and resolves after the
 * kernel closed (after a shutdown_request, SIGTERM, or the end of the process that started it). A failed start, of the server or of the
 * executor, closes what was opened, then rethrows.
 */
export async function runKernelProcess(options: KernelProcessOptions): Promise<void> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[ringbook] ${line}\n`));
  const executor = new StartingExecutor(() => options.startExecutor(log));
  let kernel;
  try {
    const connection = await readConnectionFile(options.connectionFile);
    kernel = await startKernel({ connection, executor, log, historyFile: historyFilePath(), identity: readIdentity(log) });
  } catch (error) {
    await executor.close();
    throw error;
  }
  const running = kernel;
  executor.begin();
  let startFailure: unknown;
  const executorFailed = executor.started.then(
    () => new Promise<never>(() => {}),
    (error: unknown) => {
      startFailure = error;
    },
  );
  const onSigint = (): void => {
    log("SIGINT: interrupting the running cell");
    running.interrupt().catch((error: unknown) => log(`interrupt failed: ${(error as Error).message}`));
  };
  let onSigterm: () => void = () => {};
  const terminated = new Promise<void>((resolve) => (onSigterm = resolve));
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  const parent = watchParent();
  const orphaned = parent.gone.then(() => log("the process that started the kernel is gone; shutting down"));
  try {
    await Promise.race([running.shutdownRequested, terminated, executorFailed, orphaned]);
  } finally {
    parent.stop();
    await running.close();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
  }
  if (startFailure !== undefined) {
    const message = startFailure instanceof Error ? startFailure.message : String(startFailure);
    throw new Error(`the executor could not start: ${message}`, { cause: startFailure });
  }
  // Everything owned is closed; do not let a stray handle in cell code keep the process alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_GRACE_MS).unref();
}

async function readConnectionFile(file: string) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new Error(`cannot read connection file ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseConnectionInfo(parsed, file);
}

function readIdentity(log: (line: string) => void): KernelIdentity {
  const require = createRequire(import.meta.url);
  const versionOf = (specifier: string): string => {
    try {
      const manifest: unknown = require(specifier);
      if (isJsonObject(manifest) && typeof manifest["version"] === "string") return manifest["version"];
    } catch (error) {
      log(`cannot read ${specifier}: ${(error as Error).message}`);
    }
    return "unknown";
  };
  // From dist/kernel/server/ (compiled) the package root is three levels up.
  return { implementationVersion: versionOf("../../../package.json"), languageVersion: versionOf("typescript/package.json") };
}
