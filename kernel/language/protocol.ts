/** Messages between the executor and its language-service worker thread. */
import { RingbookError } from "../../lib/errors.js";
import { isJsonObject, quote } from "../../lib/json-guards.js";

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

/** Checks the language worker's `workerData` (made by the LanguageClient, but it crosses a thread). */
export function parseLanguageWorkerConfig(value: unknown): LanguageWorkerConfig {
  if (!isJsonObject(value)) throw new RingbookError("LANGUAGE_WORKER", `language worker configuration must be an object, got ${quote(value)}`);
  const { cwd, packageRoot, checker } = value;
  if (typeof cwd !== "string" || typeof packageRoot !== "string" || (checker !== "native" && checker !== "classic")) {
    throw new RingbookError("LANGUAGE_WORKER", `language worker configuration needs cwd and packageRoot folders and checker "native" or "classic", got ${quote(value, 200)}`);
  }
  return { cwd, packageRoot, checker };
}

/** The type checker of cells; completions and inspection always use classic TypeScript's language service. */
export type TypeChecker = "native" | "classic";

/** A type error of the checked cell, positions 1-based within that cell; the end is exclusive. */
export interface CellDiagnostic {
  line: number;
  column: number;
  /** Where the code the error is about ends (editors underline from line:column to here). */
  endLine: number;
  endColumn: number;
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
