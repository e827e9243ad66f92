/** Messages between the executor and its language-service worker thread. */

/** Completions at a cursor (a complete_reply's content, in camelCase). */
export interface CompleteResult {
  matches: string[];
  cursorStart: number;
  cursorEnd: number;
  /** Spec's `_jupyter_types_experimental` entries, one per match. */
  types?: Array<{ start: number; end: number; text: string; type: string; signature?: string }>;
}

/** What inspection found at a cursor. */
export interface InspectResult {
  found: boolean;
  /** A MIME bundle (MIME type → data). */
  data: Record<string, unknown>;
}

/** `workerData` of the language worker. */
export interface LanguageWorkerConfig {
  /** The notebook folder: tsconfig.json and node_modules are looked up from here. */
  cwd: string;
  /** ringbook's package root (for `ringbook`, `ringbook/display`, `tslab` types). */
  packageRoot: string;
  /** What checks cells: TypeScript 7's native compiler (falling back to classic where it cannot start), or classic TypeScript. */
  checker: TypeChecker;
}

/** The type checker of cells; completions and inspection always use classic TypeScript's language service. */
export type TypeChecker = "native" | "classic";

/** A type error of the checked cell, positions 1-based within that cell. */
export interface CellDiagnostic {
  line: number;
  column: number;
  code: number;
  message: string;
}

export type LanguageRequest =
  | { kind: "commit"; code: string }
  /** Checks `code` as if only the first `contextCells` committed cells had run before it. */
  | { kind: "diagnose"; code: string; contextCells: number }
  | { kind: "complete"; code: string; cursor: number }
  | { kind: "inspect"; code: string; cursor: number; detailLevel: 0 | 1 }
  /** Starts the classic language service now, before the first completion needs it. */
  | { kind: "prepareCompletions" }
  /** Stops what the worker owns outside its thread (the native compiler's process). */
  | { kind: "close" };

export type LanguageReply =
  | { kind: "commit" }
  | { kind: "close" }
  | { kind: "prepareCompletions" }
  /** Sent unasked: a line for the kernel log (id -1), or the worker being ready (id 0). */
  | { kind: "log"; line: string }
  | { kind: "diagnose"; diagnostics: CellDiagnostic[] }
  | { kind: "complete"; result: CompleteResult }
  | { kind: "inspect"; result: InspectResult };

export type ToLanguageWorker = { id: number; request: LanguageRequest };
export type FromLanguageWorker = { id: number; ok: true; reply: LanguageReply } | { id: number; ok: false; message: string };
