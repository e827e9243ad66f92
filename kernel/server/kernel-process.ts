import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { isJsonObject } from "../protocol/json-guards.js";
import { parseConnectionInfo } from "../protocol/connection-info.js";
import type { Executor } from "../execution/executor.js";
import { historyFilePath } from "./jupyter-paths.js";
import type { KernelIdentity } from "./kernel-info.js";
import { startKernel } from "./kernel-server.js";

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
 * Runs a kernel as the process's purpose: reads the connection file, starts the executor and the
 * server, turns SIGINT into an interrupt and SIGTERM into a clean close, and resolves after the
 * kernel closed (after a shutdown_request or SIGTERM). A failed start closes what it opened.
 */
export async function runKernelProcess(options: KernelProcessOptions): Promise<void> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[ringbook] ${line}\n`));
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(options.connectionFile, "utf8"));
  } catch (error) {
    throw new Error(`cannot read connection file ${options.connectionFile}: ${(error as Error).message}`, { cause: error });
  }
  const connection = parseConnectionInfo(parsed, options.connectionFile);
  const executor = await options.startExecutor(log);
  let kernel;
  try {
    kernel = await startKernel({ connection, executor, log, historyFile: historyFilePath(), identity: readIdentity(log) });
  } catch (error) {
    await executor.close();
    throw error;
  }
  const running = kernel;
  const onSigint = (): void => {
    log("SIGINT: interrupting the running cell");
    running.interrupt().catch((error: unknown) => log(`interrupt failed: ${(error as Error).message}`));
  };
  let onSigterm: () => void = () => {};
  const terminated = new Promise<void>((resolve) => (onSigterm = resolve));
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  try {
    await Promise.race([running.shutdownRequested, terminated]);
  } finally {
    await running.close();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
  }
  // Everything owned is closed; do not let a stray handle in cell code keep the process alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_GRACE_MS).unref();
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
