/**
 * The {@link Executor} the kernel server drives: cells run in the cell worker (worker-host), the
 * language service answers completion, inspection and type checks from its own worker, and
 * is_complete is decided on the main thread without either.
 */
import type { CellEvent, CommTarget, CompleteResult, ExecuteOutcome, ExecuteRequest, Executor, InspectResult, IsCompleteResult } from "./executor.js";
import type { CellWorkerHost } from "./worker-host.js";
import type { LanguageClient } from "../language/language-client.js";
import type { CellDiagnostic } from "../language/protocol.js";
import { isCellComplete } from "./is-complete.js";
import { DeferredTypeChecks, type PendingCheck } from "./deferred-type-checks.js";

/**
 * How type errors affect cells: `off` never checks; `auto` checks like `warn` while the language
 * service runs, which a completion or inspection starts (never a check); `warn` starts it for
 * the first check; `error` checks before each cell and fails cells with type errors.
 */
export type TypeCheckMode = "off" | "auto" | "warn" | "error";

type CompileCell = (source: string) => unknown;

/** Lines such as `In[3] line 2:5 - error TS2322: Type 'string' is not assignable to type 'number'.` */
export function formatDiagnostics(diagnostics: CellDiagnostic[], executionCount: number): string[] {
  return diagnostics.map((d) => `In[${executionCount}] line ${d.line}:${d.column} - error TS${d.code}: ${d.message}`);
}

function isMagic(code: string): boolean {
  return /^\s*%%/.test(code);
}

/** When warn- and auto-mode checks run (see {@link DeferredTypeChecks}). */
export interface TypeCheckTiming {
  /**
   * Quiet time after the last cell started before checks run: longer than the gaps within a run
   * of cells sent by a program, shorter than a person takes to read a result.
   * @default 500
   */
  idleDelayMs?: number;
  /** @default 1000 */
  maxPending?: number;
}

/** Runs cells for one kernel. */
export class NotebookExecutor implements Executor {
  readonly #host: CellWorkerHost;
  readonly #language: LanguageClient;
  readonly #typeCheck: TypeCheckMode;
  readonly #log: (line: string) => void;
  #listener: (cellId: string, event: CellEvent) => void = () => {};
  readonly #checks: DeferredTypeChecks;
  /** Cells committed to the language model (it numbers them the same way). */
  #committedCells = 0;
  #compile: CompileCell | undefined;
  #closed: Promise<void> | undefined;

  constructor(host: CellWorkerHost, language: LanguageClient, typeCheck: TypeCheckMode, log: (line: string) => void, timing: TypeCheckTiming = {}) {
    this.#host = host;
    this.#language = language;
    this.#typeCheck = typeCheck;
    this.#log = log;
    this.#checks = new DeferredTypeChecks({
      idleDelayMs: timing.idleDelayMs ?? 500,
      maxPending: timing.maxPending ?? 1000,
      check: (pending) => this.#warn(pending),
      log,
    });
    host.onEvent((cellId, event) => this.#listener(cellId, event));
  }

  onEvent(listener: (cellId: string, event: CellEvent) => void): void {
    this.#listener = listener;
  }

  async execute(request: ExecuteRequest): Promise<ExecuteOutcome> {
    const checked = !isMagic(request.code) && request.code.trim() !== "";
    const contextCells = this.#committedCells;
    if (checked && this.#typeCheck === "error") {
      const diagnostics = await this.#language.diagnose(request.code, contextCells).catch((error: unknown) => {
        this.#log(`type check skipped for cell ${request.cellId}: ${error instanceof Error ? error.message : String(error)}`);
        return [];
      });
      if (diagnostics.length > 0) {
        const lines = formatDiagnostics(diagnostics, request.executionCount);
        return { status: "error", ename: "TypeScriptError", evalue: `${diagnostics.length} type error(s) in In[${request.executionCount}]; the cell did not run`, traceback: lines };
      }
    }
    // auto: no check is queued (nor its timer armed) while the language service does not run.
    const background = checked && (this.#typeCheck === "warn" || (this.#typeCheck === "auto" && this.#language.started));
    const pending: PendingCheck = { cellId: request.cellId, code: request.code, executionCount: request.executionCount, contextCells };
    this.#checks.cellStarted(background ? pending : undefined);
    const outcome = await this.#host.execute(request);
    if (checked && outcome.status === "ok") {
      // Cheap until the language service runs: the client only keeps the code until then.
      this.#committedCells++;
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
    return (await this.#host.call({ kind: "commOpen", commId, targetName, data, metadata })) === true;
  }

  async commMsg(commId: string, data: Record<string, unknown>, metadata: Record<string, unknown>): Promise<void> {
    await this.#host.call({ kind: "commMsg", commId, data, metadata });
  }

  async commClose(commId: string, data: Record<string, unknown>, metadata: Record<string, unknown>): Promise<void> {
    await this.#host.call({ kind: "commClose", commId, data, metadata });
  }

  async commInfo(targetName?: string): Promise<CommTarget[]> {
    const call = targetName === undefined ? { kind: "commInfo" as const } : { kind: "commInfo" as const, targetName };
    const value = await this.#host.call(call);
    return Array.isArray(value) ? value : [];
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#checks.close();
      await Promise.all([this.#host.close(), this.#language.close()]);
    })();
    return this.#closed;
  }

  /** A deferred check (warn, auto): type errors go to the cell's stderr, however late. */
  async #warn(pending: PendingCheck): Promise<void> {
    // auto: the language service costs ~120 MiB and ~1 s of CPU to start, more than the rest of
    // the kernel; only a user asking for completions or inspection starts it, and with it checks.
    if (this.#typeCheck === "auto" && !this.#language.started) return;
    const diagnostics = await this.#language.diagnose(pending.code, pending.contextCells);
    if (diagnostics.length === 0) return;
    const text = formatDiagnostics(diagnostics, pending.executionCount).join("\n") + "\n";
    this.#listener(pending.cellId, { kind: "stream", name: "stderr", text });
  }
}
