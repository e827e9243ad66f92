/**
 * The kernel's end of the `ringbook.diagnostics` comm (see diagnostics-protocol.ts): the open
 * comms, and the answer to each message. It runs on the kernel's main thread, beside the language
 * client, not in the cell worker: a check never waits for a cell's code, only for its turn on the
 * shell channel (like a completion).
 */
import {
  diagnosticsReply,
  DiagnosticsMessageError,
  parseCheckRequest,
  parseDiagnosticsOpen,
  type CheckRequest,
  type DiagnosticsReply,
} from "./diagnostics-protocol.js";
import type { CellDiagnostic } from "./protocol.js";

/** What checks a cell as it would run now, after the cells that ran (the language client). */
export interface CellChecker {
  diagnose(code: string): Promise<CellDiagnostic[]>;
}

/** The open diagnostics comms of one kernel and their answers. */
export class EditorDiagnostics {
  readonly #checker: CellChecker;
  readonly #log: (line: string) => void;
  readonly #comms = new Set<string>();

  constructor(checker: CellChecker, log: (line: string) => void) {
    this.#checker = checker;
    this.#log = log;
  }

  /** The ids of the open comms. */
  get commIds(): string[] {
    return [...this.#comms];
  }

  owns(commId: string): boolean {
    return this.#comms.has(commId);
  }

  /**
   * A front end opened a comm: undefined when it is open, else why it was refused (the caller
   * closes it with that reason).
   */
  open(commId: string, data: Record<string, unknown>): string | undefined {
    try {
      parseDiagnosticsOpen(data);
    } catch (error) {
      if (!(error instanceof DiagnosticsMessageError)) throw error;
      this.#log(`diagnostics comm ${commId} refused: ${error.message}`);
      return error.message;
    }
    this.#comms.add(commId);
    return undefined;
  }

  /** The answer to one message on an open comm: its cell's diagnostics, or an error reply saying what was wrong. */
  async answer(commId: string, data: Record<string, unknown>): Promise<DiagnosticsReply> {
    let request: CheckRequest;
    try {
      request = parseCheckRequest(data);
    } catch (error) {
      if (!(error instanceof DiagnosticsMessageError)) throw error;
      this.#log(`diagnostics comm ${commId}: refused a message: ${error.message}`);
      return { type: "error", message: error.message, ...echoedIds(data) };
    }
    try {
      return diagnosticsReply(request, await this.#checker.diagnose(request.source));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#log(`diagnostics comm ${commId}: check of cell ${request.cell} failed: ${reason}`);
      return { type: "error", message: `the type check failed: ${reason}`, cell: request.cell, version: request.version };
    }
  }

  /** The front end closed the comm (or the kernel restarts). */
  close(commId: string): void {
    this.#comms.delete(commId);
  }
}

/** The cell and version of a refused message, where they are well-formed: the front end can tell which request failed. */
function echoedIds(data: Record<string, unknown>): { cell?: string; version?: number } {
  const { cell, version } = data;
  return {
    ...(typeof cell === "string" && cell.length <= 256 ? { cell } : {}),
    ...(typeof version === "number" && Number.isSafeInteger(version) && version >= 0 ? { version } : {}),
  };
}
