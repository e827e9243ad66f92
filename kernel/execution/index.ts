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
import { bundledAliases } from "../../lib/script/bundled-packages.js";
import { NotebookExecutor, type TypeCheckMode } from "./notebook-executor.js";
import { readRuntimeTsconfig } from "./tsconfig-options.js";
import { RingbookError } from "../../lib/errors.js";
import type { TypeChecker } from "../language/protocol.js";

export type * from "./executor.js";
export { formatDiagnostics, type TypeCheckMode } from "./notebook-executor.js";

/** How to start an executor. */
export interface ExecutorOptions {
  /** The notebook's folder: imports, tsconfig.json and `In[n]` file names are relative to it. */
  cwd: string;
  /**
   * `"warn"`: each cell is checked while it runs and its type errors are printed on its stderr
   * before it ends; `"error"`: a cell with type errors fails without running; `"off"`: no checking.
   * `"auto"` is a former name of `"warn"`.
   * @default "warn" (the server's default; this option itself is required)
   */
  typeCheck: TypeCheckMode;
  /**
   * How long a finished cell waits for its check before ending without it (see TypeCheckTiming).
   * @default 10000
   */
  typeCheckWaitMs?: number;
  /**
   * What checks cells: `"native"`, TypeScript 7's compiler (about a millisecond a cell; classic
   * TypeScript where it cannot start), or `"classic"` TypeScript 6.
   * @default $RINGBOOK_TYPE_CHECKER, else "native"
   */
  typeChecker?: TypeChecker;
  /** Receives the executor's diagnostic lines (for the kernel log). */
  log: (line: string) => void;
}

/**
 * Starts the cell worker (ready when this resolves), and the language worker in the background
 * unless checks are off: its native checker takes about half a second to start, which the first
 * cell waits for; the classic language service for completions starts with the first of them.
 */
export async function startExecutor(options: ExecutorOptions): Promise<Executor> {
  if (!["off", "warn", "error", "auto"].includes(options.typeCheck)) {
    throw new RingbookError("EXECUTOR_OPTIONS", `typeCheck must be "off", "auto", "warn" or "error", got ${JSON.stringify(options.typeCheck)}`);
  }
  const cwd = resolve(options.cwd);
  const distRoot = new URL("../../", import.meta.url);
  const packageRoot = fileURLToPath(new URL("../", distRoot));
  const moduleAliases = {
    ringbook: new URL("lib/index.js", distRoot).href,
    "ringbook/display": new URL("kernel/display/index.js", distRoot).href,
    tslab: new URL("kernel/display/tslab.js", distRoot).href,
    ...bundledAliases(cwd),
  };
  const tsconfig = readRuntimeTsconfig(cwd, options.log);
  const host = await CellWorkerHost.start({ cwd, moduleAliases, ...tsconfig }, options.log);
  const checker = options.typeChecker ?? parseTypeChecker(process.env["RINGBOOK_TYPE_CHECKER"] ?? "native");
  const language = new LanguageClient({ cwd, packageRoot, checker }, options.log);
  // Failures are reported to each check and logged by the client.
  if (options.typeCheck !== "off") language.start().catch(() => undefined);
  const timing = options.typeCheckWaitMs === undefined ? {} : { waitMs: options.typeCheckWaitMs };
  return new NotebookExecutor(host, language, options.typeCheck, options.log, timing);
}

/** `native` or `classic`, as RINGBOOK_TYPE_CHECKER may say. */
function parseTypeChecker(value: string): TypeChecker {
  if (value === "native" || value === "classic") return value;
  throw new RingbookError("EXECUTOR_OPTIONS", `RINGBOOK_TYPE_CHECKER must be "native" or "classic", got ${JSON.stringify(value)}`);
}
