/** Test helpers: a real executor in a temporary notebook folder, with its events collected per cell. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startExecutor } from "../../kernel/execution/index.js";
import type { CellEvent, ExecuteOutcome, ExecuteRequest, Executor } from "../../kernel/execution/executor.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** An executor plus what it emitted. */
export interface TestNotebook {
  executor: Executor;
  dir: string;
  events: Array<{ cellId: string; event: CellEvent }>;
  logs: string[];
  /** Runs a cell; cell ids are `c1`, `c2`, … matching the execution count. */
  run(code: string, options?: Partial<ExecuteRequest>): Promise<ExecuteOutcome & { cellId: string }>;
  /** Events of one cell. */
  eventsOf(cellId: string): CellEvent[];
  /** Concatenated stream text of one cell. */
  streamOf(cellId: string, name?: "stdout" | "stderr"): string;
  /** Waits until `predicate` holds for the collected events (polling), or fails after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts an executor in a fresh folder; `files` (paths relative to it) are written there; node_modules links to ours. */
export async function openNotebook(
  options: { typeCheck?: "off" | "auto" | "warn" | "error"; typeCheckWaitMs?: number; files?: Record<string, string>; nodeModules?: boolean; typeChecker?: "native" | "classic" } = {},
): Promise<TestNotebook> {
  const dir = mkdtempSync(join(tmpdir(), "ringbook-exec-"));
  if (options.nodeModules !== false) symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
  for (const [name, text] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const logs: string[] = [];
  const executor = await startExecutor({
    cwd: dir,
    typeCheck: options.typeCheck ?? "off",
    ...(options.typeCheckWaitMs === undefined ? {} : { typeCheckWaitMs: options.typeCheckWaitMs }),
    ...(options.typeChecker === undefined ? {} : { typeChecker: options.typeChecker }),
    log: (line) => logs.push(line),
  });
  const events: TestNotebook["events"] = [];
  executor.onEvent((cellId, event) => events.push({ cellId, event }));
  let count = 0;
  const notebook: TestNotebook = {
    executor,
    dir,
    events,
    logs,
    async run(code, overrides = {}) {
      count++;
      const request: ExecuteRequest = {
        cellId: `c${count}`,
        code,
        silent: false,
        storeHistory: true,
        userExpressions: {},
        allowStdin: false,
        executionCount: count,
        ...overrides,
      };
      const outcome = await executor.execute(request);
      return { ...outcome, cellId: request.cellId };
    },
    eventsOf: (cellId) => events.filter((entry) => entry.cellId === cellId).map((entry) => entry.event),
    streamOf: (cellId, name = "stdout") =>
      notebook
        .eventsOf(cellId)
        .map((event) => (event.kind === "stream" && event.name === name ? event.text : ""))
        .join(""),
    async waitFor(predicate, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; events: ${JSON.stringify(events).slice(0, 2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      await executor.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return notebook;
}

/** The text/plain of an ok outcome's result, or a description of what came instead. */
export function resultText(outcome: ExecuteOutcome): string {
  if (outcome.status !== "ok") return `<${outcome.status}: ${JSON.stringify(outcome)}>`;
  const text = outcome.result?.data["text/plain"];
  return typeof text === "string" ? text : "<no result>";
}
