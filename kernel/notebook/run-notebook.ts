import { isJsonObject, type JsonObject } from "../protocol/json-guards.js";
import type { WireMessage } from "../protocol/wire-types.js";
import { OutputCollector } from "./output-collector.js";
import { injectParameters, type ParameterValue } from "./parameters.js";
import { cellTags, readNotebook, writeNotebook, type CodeCell, type Notebook } from "./notebook-file.js";

/** nbclient's tags: a cell that may fail (the run goes on), and a cell that is not run (its saved outputs stay). */
export const raisesExceptionTag = "raises-exception";
export const skipExecutionTag = "skip-execution";

/** The reply of one executed cell. */
export interface ExecuteOutcome {
  status: "ok" | "error" | "aborted";
  content: JsonObject;
}

/** A running kernel as the notebook runner uses it: local child process or a Jupyter server's. */
export interface NotebookKernel {
  /** kernel_info_reply content (for the notebook's language_info). */
  readonly info: JsonObject;
  execute(code: string, onIopub: (message: Pick<WireMessage, "header" | "content">) => void, options: { signal: AbortSignal }): Promise<ExecuteOutcome>;
  interrupt(): Promise<void>;
  /** Resolves if the kernel dies, with a description. */
  readonly died: Promise<string>;
  close(): Promise<void>;
}

/** Options of {@link runNotebook}. */
export interface RunNotebookOptions {
  input: string;
  output: string;
  parameters: ReadonlyMap<string, ParameterValue>;
  /** Per-cell limit; the cell is interrupted and the run fails. */
  timeoutSeconds?: number;
  /**
   * A failing cell does not stop the run (nbclient's `--allow-errors`): its error is saved with it
   * and the next cell runs. Cells tagged `raises-exception` may fail either way. A timeout, a
   * kernel that died and a stopped run still end it. @default false
   */
  allowErrors?: boolean;
  startKernel: () => Promise<NotebookKernel>;
  /** Progress lines (stderr in the CLI). */
  progress: (line: string) => void;
  /**
   * Aborting stops the run (the CLI's SIGINT/SIGTERM): the running cell is interrupted, the
   * executed notebook is written up to there, and the kernel is closed with what it started.
   */
  signal?: AbortSignal;
}

/** How a run ended. */
export type RunNotebookResult =
  | { status: "ok"; output: string; cells: number; durationMs: number; skippedCells: number[]; allowedErrors: number[] }
  | { status: "failed"; output: string; cellNumber: number; report: string; reason: "error" | "timeout" | "kernel-died" | "interrupted" };

/**
 * Runs every code cell of a notebook in order on a fresh kernel, papermill-style: parameters are
 * injected after the `parameters` cell, the executed notebook is rewritten as outputs arrive (at
 * most once a second) and after each cell, so a crash or timeout loses nothing already computed,
 * and the run stops at the first failing cell with a report naming the cell, its line and the
 * traceback. The kernel is closed on every path (and with it every worker cluster the notebook
 * left open). The input file is never written.
 */
export async function runNotebook(options: RunNotebookOptions): Promise<RunNotebookResult> {
  const started = Date.now();
  const notebook = injectParameters(await readNotebook(options.input), options.parameters);
  const codeCells = notebook.cells.filter((cell): cell is CodeCell => cell.cell_type === "code");
  const skipped = new Set(codeCells.filter((cell) => cellTags(cell).includes(skipExecutionTag)));
  for (const cell of codeCells) {
    if (skipped.has(cell)) continue;
    cell.outputs = [];
    cell.execution_count = null;
  }
  const skippedCells = [...skipped].map((cell) => notebook.cells.indexOf(cell) + 1);
  /** Numbers of the cells whose failure was allowed. */
  const allowedErrors: number[] = [];
  const runInfo: JsonObject = {
    input_path: options.input,
    output_path: options.output,
    parameters: Object.fromEntries(options.parameters) as JsonObject,
    start_time: new Date(started).toISOString(),
  };
  notebook.metadata = { ...notebook.metadata, ringbook: runInfo };
  await writeNotebook(options.output, notebook);
  const writer = new ThrottledWriter(options.output, notebook);
  const kernel = await options.startKernel();
  try {
    notebook.metadata = {
      ...notebook.metadata,
      kernelspec: { name: "ringbook", display_name: "TypeScript (ringbook)", language: "typescript" },
      ...(isJsonObject(kernel.info["language_info"]) ? { language_info: kernel.info["language_info"] } : {}),
    };
    const collector = new OutputCollector();
    const stopped = abortedPromise(options.signal);
    for (const [index, cell] of codeCells.entries()) {
      const cellNumber = notebook.cells.indexOf(cell) + 1;
      if (options.signal?.aborted === true) {
        const report = `the run was stopped (${abortReason(options.signal)}) before cell ${cellNumber}`;
        return await finish(writer, runInfo, { status: "failed", output: options.output, cellNumber, report, reason: "interrupted" }, started);
      }
      if (cell.source.trim() === "") continue;
      if (skipped.has(cell)) {
        options.progress(`cell ${cellNumber} skipped (tagged ${skipExecutionTag})`);
        continue;
      }
      const cellStart = Date.now();
      options.progress(`cell ${cellNumber}/${notebook.cells.length} (code ${index + 1}/${codeCells.length}) running`);
      const timeout = options.timeoutSeconds === undefined ? undefined : AbortSignal.timeout(options.timeoutSeconds * 1000);
      const controller = new AbortController();
      const onIopub = (message: Pick<WireMessage, "header" | "content">): void => {
        if (message.header.msg_type === "execute_input" && typeof message.content["execution_count"] === "number") {
          cell.execution_count = message.content["execution_count"];
        }
        if (collector.apply(cell, message as WireMessage)) writer.changed();
        // Type errors are saved with the cell and printed, as a compiler would.
        if (message.header.msg_type === "stream" && message.content["name"] === "stderr" && typeof message.content["text"] === "string") {
          for (const line of message.content["text"].split("\n")) if (typeErrorLine.test(line)) options.progress(`cell ${cellNumber}: ${line}`);
        }
      };
      const execution = kernel.execute(cell.source, onIopub, { signal: controller.signal });
      const timedOut = timeout === undefined ? new Promise<never>(() => undefined) : new Promise<"timeout">((resolve) => timeout.addEventListener("abort", () => resolve("timeout"), { once: true }));
      const outcome = await Promise.race([execution, timedOut, stopped, kernel.died.then((why) => ({ died: why }))]);
      if (outcome === "stopped") {
        await kernel.interrupt().catch(() => undefined);
        await Promise.race([execution.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
        controller.abort();
        const why = abortReason(options.signal);
        const report = `the run was stopped (${why}) while cell ${cellNumber} ran; it was interrupted\n${excerpt(cell.source)}`;
        cell.outputs.push({ output_type: "error", ename: "RunStopped", evalue: `stopped (${why})`, traceback: [report] });
        return await finish(writer, runInfo, { status: "failed", output: options.output, cellNumber, report, reason: "interrupted" }, started);
      }
      if (outcome === "timeout") {
        await kernel.interrupt().catch(() => undefined);
        await Promise.race([execution.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
        controller.abort();
        const report = `cell ${cellNumber} timed out after ${options.timeoutSeconds} s and was interrupted\n${excerpt(cell.source)}`;
        cell.outputs.push({ output_type: "error", ename: "CellTimeoutError", evalue: `timed out after ${options.timeoutSeconds} s`, traceback: [report] });
        return await finish(writer, runInfo, { status: "failed", output: options.output, cellNumber, report, reason: "timeout" }, started);
      }
      if ("died" in outcome) {
        controller.abort();
        const report = `the kernel died while cell ${cellNumber} ran: ${outcome.died}\n${excerpt(cell.source)}`;
        cell.outputs.push({ output_type: "error", ename: "KernelDied", evalue: outcome.died, traceback: [report] });
        return await finish(writer, runInfo, { status: "failed", output: options.output, cellNumber, report, reason: "kernel-died" }, started);
      }
      cell.metadata = { ...cell.metadata, execution: { "ringbook.start": new Date(cellStart).toISOString(), "ringbook.end": new Date().toISOString() } };
      await writer.flush();
      if (outcome.status !== "ok") {
        const report = errorReport(cellNumber, cell, outcome.content);
        const allowed = options.allowErrors === true || cellTags(cell).includes(raisesExceptionTag);
        if (!allowed) return await finish(writer, runInfo, { status: "failed", output: options.output, cellNumber, report, reason: "error" }, started);
        allowedErrors.push(cellNumber);
        options.progress(`${report.split("\n")[0]} (allowed: ${options.allowErrors === true ? "--allow-errors" : `tagged ${raisesExceptionTag}`}); the run goes on`);
        continue;
      }
      options.progress(`cell ${cellNumber} ok (${Date.now() - cellStart} ms)`);
    }
    if (allowedErrors.length > 0) runInfo["allowed_errors"] = allowedErrors;
    if (skippedCells.length > 0) runInfo["skipped_cells"] = skippedCells;
    return await finish(writer, runInfo, { status: "ok", output: options.output, cells: codeCells.length, durationMs: Date.now() - started, skippedCells, allowedErrors }, started);
  } finally {
    await kernel.close();
    await writer.flush();
  }
}

/** A type error as the kernel prints it: `In[3] line 1:7 - error TS2322: ...`. */
const typeErrorLine = /^In\[\d+\] line \d+:\d+ - error TS\d+: /;

/** Resolves with "stopped" once `signal` aborts; never without one. */
function abortedPromise(signal: AbortSignal | undefined): Promise<"stopped"> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve("stopped");
    else signal.addEventListener("abort", () => resolve("stopped"), { once: true });
  });
}

function abortReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason.message : typeof reason === "string" ? reason : "aborted";
}

async function finish(writer: ThrottledWriter, runInfo: JsonObject, result: RunNotebookResult, started: number): Promise<RunNotebookResult> {
  runInfo["end_time"] = new Date().toISOString();
  runInfo["duration_seconds"] = (Date.now() - started) / 1000;
  runInfo["status"] = result.status;
  if (result.status === "failed") runInfo["failed_cell"] = result.cellNumber;
  writer.changed();
  await writer.flush();
  return result;
}

function errorReport(cellNumber: number, cell: CodeCell, reply: JsonObject): string {
  const ename = String(reply["ename"] ?? "Error");
  const evalue = String(reply["evalue"] ?? "");
  const traceback = Array.isArray(reply["traceback"]) ? reply["traceback"].map(String) : [];
  const line = errorLine(traceback, cell.source);
  const lines = [`cell ${cellNumber} failed: ${ename}: ${evalue}`];
  if (line !== undefined) lines.push(`  line ${line}: ${cell.source.split("\n")[line - 1]?.trim() ?? ""}`);
  else lines.push(excerpt(cell.source));
  if (traceback.length > 0) lines.push(traceback.join("\n"));
  return lines.join("\n");
}

/** The cell line an error points at, from tracebacks such as `at In[3]:4:7` or `In[3] line 4`. */
function errorLine(traceback: readonly string[], source: string): number | undefined {
  const lineCount = source.split("\n").length;
  for (const entry of traceback) {
    const match = /In\s*\[\d*\][^\d\n]*?(?:line\s+)?:?(\d+)/.exec(entry);
    if (match) {
      const line = Number(match[1]);
      if (line >= 1 && line <= lineCount) return line;
    }
  }
  return undefined;
}

function excerpt(source: string): string {
  const lines = source.split("\n");
  return lines.slice(0, 6).map((l) => `  | ${l}`).join("\n") + (lines.length > 6 ? "\n  | ..." : "");
}

/** Rewrites the output notebook at most once a second while outputs arrive, and on demand. */
class ThrottledWriter {
  readonly #path: string;
  readonly #notebook: Notebook;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string, notebook: Notebook) {
    this.#path = path;
    this.#notebook = notebook;
  }

  changed(): void {
    this.#dirty = true;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush().catch(() => undefined);
    }, 1000);
  }

  /** Writes now if anything changed; waits for any write in progress. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const previous = this.#writing;
    this.#writing = (async () => {
      await previous;
      if (!this.#dirty) return;
      this.#dirty = false;
      await writeNotebook(this.#path, this.#notebook);
    })();
    await this.#writing;
  }
}
