/**
 * The {@link Executor} the kernel server drives: cells run in the cell worker (worker-host), the
 * language service answers completion, inspection and type checks from its own worker, and
 * is_complete is decided on the main thread without either.
 */
import { commOrigin, type CellEvent, type CommTarget, type CompleteResult, type ExecuteOutcome, type ExecuteRequest, type Executor, type InspectResult, type IsCompleteResult } from "./executor.js";
import type { CellWorkerHost } from "./worker-host.js";
import type { LanguageClient } from "../language/language-client.js";
import type { CellDiagnostic } from "../language/protocol.js";
import { isCellComplete } from "./is-complete.js";
import { figureStreamTarget } from "../../lib/plots/figure-stream.js";
import { diagnosticsTarget } from "../language/diagnostics-protocol.js";
import { EditorDiagnostics } from "../language/editor-diagnostics.js";
import { RecentChecks } from "../language/recent-checks.js";

/**
 * How type errors affect cells: `off` never checks; `warn` (the default) checks each cell while it
 * runs and prints its type errors on the cell's stderr before the cell ends; `error` checks before
 * each cell and fails a cell with type errors without running it. `auto` is a former name of `warn`.
 */
export type TypeCheckMode = "off" | "warn" | "error" | "auto";

type CompileCell = (source: string) => unknown;

/** Lines such as `In[3] line 2:5 - error TS2322: Type 'string' is not assignable to type 'number'.` */
export function formatDiagnostics(diagnostics: CellDiagnostic[], executionCount: number): string[] {
  return diagnostics.map((d) => `In[${executionCount}] line ${d.line}:${d.column} - error TS${d.code}: ${d.message}`);
}

function isMagic(code: string): boolean {
  return /^\s*%%/.test(code);
}

/** Options of the checks that run beside cells. */
export interface TypeCheckTiming {
  /**
   * How long a finished cell waits for its check (the first cells of a kernel also wait for the
   * checker to start, about a second). A check that takes longer is printed when it is done,
   * after the cell's end, where front ends may no longer show it.
   * @default 10000
   */
  waitMs?: number;
}

/** Runs cells for one kernel. */
export class NotebookExecutor implements Executor {
  readonly #host: CellWorkerHost;
  readonly #language: LanguageClient;
  readonly #typeCheck: TypeCheckMode;
  readonly #log: (line: string) => void;
  #listener: (cellId: string, event: CellEvent) => void = () => {};
  readonly #checkWaitMs: number;
  /** Cells committed to the language model (it numbers them the same way). */
  #committedCells = 0;
  #compile: CompileCell | undefined;
  #closed: Promise<void> | undefined;
  /** The `ringbook.diagnostics` comms: answered here, beside the language client, never in the cell worker. */
  readonly #editorDiagnostics: EditorDiagnostics;
  /** The editor's checks of the current cells: a cell checked as it was typed runs without another check. */
  readonly #recentChecks = new RecentChecks();

  constructor(host: CellWorkerHost, language: LanguageClient, typeCheck: TypeCheckMode, log: (line: string) => void, timing: TypeCheckTiming = {}) {
    this.#host = host;
    this.#language = language;
    this.#typeCheck = typeCheck;
    this.#log = log;
    this.#checkWaitMs = timing.waitMs ?? 10_000;
    host.onEvent((cellId, event) => this.#listener(cellId, event));
    // An edited cell is checked as if it ran next: after every cell that ran so far. A cell magic
    // (`%%bash`) is not TypeScript.
    this.#editorDiagnostics = new EditorDiagnostics({ diagnose: async (code) => (isMagic(code) ? [] : this.#checkEdited(code)) }, log);
  }

  onEvent(listener: (cellId: string, event: CellEvent) => void): void {
    this.#listener = listener;
  }

  async execute(request: ExecuteRequest): Promise<ExecuteOutcome> {
    // Every TypeScript cell joins the model (completions need it); silent ones are not checked.
    const recorded = !isMagic(request.code) && request.code.trim() !== "";
    const checked = recorded && !request.silent && this.#typeCheck !== "off";
    const contextCells = this.#committedCells;
    // A cell checked as it was typed (and not changed since) is not checked again.
    const checkOf = (): Promise<CellDiagnostic[]> => this.#recentChecks.find(request.code, contextCells) ?? this.#language.diagnose(request.code, contextCells);
    if (checked && this.#typeCheck === "error") {
      const diagnostics = await checkOf().catch((error: unknown) => {
        this.#log(`type check skipped for cell ${request.cellId}: ${error instanceof Error ? error.message : String(error)}`);
        return [];
      });
      if (diagnostics.length > 0) {
        const lines = formatDiagnostics(diagnostics, request.executionCount);
        return { status: "error", ename: "TypeScriptError", evalue: `${diagnostics.length} type error(s) in In[${request.executionCount}]; the cell did not run`, traceback: lines };
      }
    }
    // warn: the check runs on the language worker while the cell runs on the cell worker.
    const check = checked && this.#typeCheck !== "error" ? checkOf() : undefined;
    const outcome = await this.#host.execute(request);
    // An interrupted cell ends at once: its type errors, if any, follow.
    if (check !== undefined) await this.#reportCheck(check, request, outcome.status === "interrupted" || outcome.status === "restarted" ? 0 : this.#checkWaitMs);
    // What a cell declared before it failed or was interrupted exists, and later cells use it; a
    // restarted environment has lost everything anyway.
    if (recorded && outcome.status !== "restarted") {
      this.#committedCells++;
      this.#recentChecks.committed(this.#committedCells);
      this.#language.commit(request.code);
    }
    return outcome;
  }

  interrupt(): Promise<void> {
    return this.#host.interrupt();
  }

  async complete(code: string, cursorPos: number): Promise<CompleteResult> {
    try {
      return await this.#language.complete(code, cursorPos);
    } catch (error) {
      this.#log(`complete failed: ${error instanceof Error ? error.message : String(error)}`);
      return { matches: [], cursorStart: cursorPos, cursorEnd: cursorPos };
    }
  }

  async inspect(code: string, cursorPos: number, detailLevel: 0 | 1): Promise<InspectResult> {
    try {
      return await this.#language.inspect(code, cursorPos, detailLevel);
    } catch (error) {
      this.#log(`inspect failed: ${error instanceof Error ? error.message : String(error)}`);
      return { found: false, data: {} };
    }
  }

  async isComplete(code: string): Promise<IsCompleteResult> {
    if (!this.#compile) {
      const { compileCell } = await import("../../lib/script/index.js");
      this.#compile = (source) => compileCell(source);
    }
    return isCellComplete(code, this.#compile);
  }

  provideInput(requestId: string, value: string): void {
    this.#host.provideInput(requestId, value);
  }

  async commOpen(commId: string, targetName: string, data: Record<string, unknown>, metadata: Record<string, unknown>): Promise<boolean> {
    // ringbook's JupyterLab extension opens this comm for every notebook it shows: someone who
    // will press Tab soon. Headless runs never open it, and never pay the service's memory.
    if (targetName === figureStreamTarget) this.#language.prepareCompletions();
    if (targetName === diagnosticsTarget) {
      const refused = this.#typeCheck === "off" ? "type checks are off in this kernel (--type-check off)" : this.#editorDiagnostics.open(commId, data);
      // Accepted, then closed with the reason: the front end learns why (an unknown target closes silently).
      if (refused !== undefined) this.#listener(commOrigin(commId), { kind: "commClose", commId, data: { error: refused }, metadata: {} });
      return true;
    }
    return (await this.#host.call({ kind: "commOpen", commId, targetName, data, metadata })) === true;
  }

  async commMsg(commId: string, data: Record<string, unknown>, metadata: Record<string, unknown>): Promise<void> {
    if (this.#editorDiagnostics.owns(commId)) {
      const reply = await this.#editorDiagnostics.answer(commId, data);
      this.#listener(commOrigin(commId), { kind: "commMsg", commId, data: { ...reply }, metadata: {} });
      return;
    }
    await this.#host.call({ kind: "commMsg", commId, data, metadata });
  }

  async commClose(commId: string, data: Record<string, unknown>, metadata: Record<string, unknown>): Promise<void> {
    if (this.#editorDiagnostics.owns(commId)) {
      this.#editorDiagnostics.close(commId);
      return;
    }
    await this.#host.call({ kind: "commClose", commId, data, metadata });
  }

  async commInfo(targetName?: string): Promise<CommTarget[]> {
    const call = targetName === undefined ? { kind: "commInfo" as const } : { kind: "commInfo" as const, targetName };
    const value = await this.#host.call(call);
    const own = targetName === undefined || targetName === diagnosticsTarget ? this.#editorDiagnostics.commIds.map((commId) => ({ commId, targetName: diagnosticsTarget })) : [];
    return [...(Array.isArray(value) ? value : []), ...own];
  }

  close(): Promise<void> {
    this.#closed ??= Promise.all([this.#host.close(), this.#language.close()]).then(() => undefined);
    return this.#closed;
  }

  /** The editor's check of `code` as if it ran next, kept for the cell's run. */
  #checkEdited(code: string): Promise<CellDiagnostic[]> {
    const contextCells = this.#committedCells;
    const check = this.#language.diagnose(code, contextCells);
    this.#recentChecks.remember(code, contextCells, check);
    return check;
  }

  /**
   * Prints a cell's type errors on its stderr once its check is done: before the cell's end when
   * the check takes at most `waitMs` after the cell, later otherwise.
   */
  async #reportCheck(check: Promise<CellDiagnostic[]>, request: ExecuteRequest, waitMs: number): Promise<void> {
    const report = (diagnostics: CellDiagnostic[]): void => {
      if (diagnostics.length === 0) return;
      const text = formatDiagnostics(diagnostics, request.executionCount).join("\n") + "\n";
      this.#listener(request.cellId, { kind: "stream", name: "stderr", text });
    };
    const failed = (error: unknown): void => this.#log(`type check of In[${request.executionCount}] failed: ${error instanceof Error ? error.message : String(error)}`);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), waitMs)));
    try {
      const first = await Promise.race([check, late]);
      if (first !== "late") {
        report(first);
        return;
      }
      if (waitMs > 0) this.#log(`type check of In[${request.executionCount}] took over ${waitMs} ms; its errors will follow the cell`);
      check.then(report, failed);
    } catch (error) {
      failed(error);
    } finally {
      clearTimeout(timer);
    }
  }
}
