/**
 * The executor of ringbook's kernel: TypeScript cells in a worker thread, display, stdin, comms,
 * interrupt, and a background TypeScript language service.
 * @example
 * const executor = await startExecutor({ cwd: process.cwd(), typeCheck: "warn", log: console.error });
 * executor.onEvent((cellId, event) => send(cellId, event));
 * const outcome = await executor.execute({ cellId: "1", code: "1 + 1", silent: false, storeHistory: true,
 *   userExpressions: {}, allowStdin: false, executionCount: 1 });
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Executor } from "./executor.js";
import { CellWorkerHost } from "./worker-host.js";
import { LanguageClient } from "../language/language-client.js";
import { NotebookExecutor, type TypeCheckMode } from "./notebook-executor.js";
import { readRuntimeTsconfig } from "./tsconfig-options.js";
import { RingbookError } from "../../lib/errors.js";

export type * from "./executor.js";
export { formatDiagnostics, type TypeCheckMode } from "./notebook-executor.js";

/** How to start an executor. */
export interface ExecutorOptions {
  /** The notebook's folder: imports, tsconfig.json and `In[n]` file names are relative to it. */
  cwd: string;
  /**
   * `"warn"`: type errors are printed to the cell's stderr once no cell has started for
   * `typeCheckIdleDelayMs` (never delaying a cell; a long cell is checked while it runs); `"auto"`:
   * the same while the language service runs, which only a completion or inspection starts;
   * `"error"`: a cell with type errors fails without running; `"off"`: no checking.
   * @default "auto" (the server's default; this option itself is required)
   */
  typeCheck: TypeCheckMode;
  /**
   * Warn and auto mode: quiet time after the last cell started before checks run (see DeferredTypeChecks).
   * @default 500
   */
  typeCheckIdleDelayMs?: number;
  /** Receives the executor's diagnostic lines (for the kernel log). */
  log: (line: string) => void;
}

/** Error mode: delay before the language service starts loading, so that the first cell runs first. */
const languageWarmupDelayMs = 200;

/**
 * Starts the cell worker (ready when this resolves). The language service (TypeScript, ~120 MiB
 * and ~1 s of CPU) starts when first needed: a completion or inspection, a warn-mode check (run
 * when the kernel is idle), or, in error mode, at once in the background since every cell waits
 * for a check.
 */
export async function startExecutor(options: ExecutorOptions): Promise<Executor> {
  if (!["off", "auto", "warn", "error"].includes(options.typeCheck)) {
    throw new RingbookError("EXECUTOR_OPTIONS", `typeCheck must be "off", "auto", "warn" or "error", got ${JSON.stringify(options.typeCheck)}`);
  }
  const cwd = resolve(options.cwd);
  const distRoot = new URL("../../", import.meta.url);
  const packageRoot = fileURLToPath(new URL("../", distRoot));
  const moduleAliases = {
    ringbook: new URL("lib/index.js", distRoot).href,
    "ringbook/display": new URL("kernel/display/index.js", distRoot).href,
    tslab: new URL("kernel/display/tslab.js", distRoot).href,
  };
  const tsconfig = readRuntimeTsconfig(cwd, options.log);
  const host = await CellWorkerHost.start({ cwd, moduleAliases, ...tsconfig }, options.log);
  const language = new LanguageClient({ cwd, packageRoot }, options.log);
  if (options.typeCheck === "error") {
    const warmup = setTimeout(() => void language.start().catch(() => undefined), languageWarmupDelayMs);
    warmup.unref();
  }
  const timing = options.typeCheckIdleDelayMs === undefined ? {} : { idleDelayMs: options.typeCheckIdleDelayMs };
  return new NotebookExecutor(host, language, options.typeCheck, options.log, timing);
}
