/**
 * The `ringbook.diagnostics` comm: a front end (ringbook's JupyterLab extension) asks for the type
 * errors of the cell being edited, as it would run now, after the cells that ran; the kernel
 * answers on the same comm. Pure message types and parsers, no I/O. The extension's copy of this
 * protocol is extensions/ringbook-plotly/src/diagnostics-protocol.ts.
 *
 * Front end → kernel, on comm_open: `{ protocol: 1 }`; then
 * `{ type: "check", cell: "<cell id>", version: 7, source: "const typed: string = 5;" }`.
 * Kernel → front end: `{ type: "diagnostics", cell, version, diagnostics: [...] }`, or
 * `{ type: "error", message, cell?, version? }` for a message the kernel cannot answer.
 */
import type { CellDiagnostic } from "./protocol.js";

/** The comm target the kernel serves. */
export const diagnosticsTarget = "ringbook.diagnostics";

/** The version of the comm's messages this kernel speaks (the front end names its own on open). */
export const diagnosticsProtocol = 1;

/** Longest cell source the kernel checks (a larger one is refused with an error reply). */
export const maxCheckedSourceChars = 1_000_000;

/** A request for the type errors of one version of one cell. */
export interface CheckRequest {
  type: "check";
  /** The front end's id of the cell (echoed back; the kernel does not interpret it). */
  cell: string;
  /** Grows with every edit of the notebook: the front end drops answers to older versions. */
  version: number;
  source: string;
}

/** One type error, positions 1-based within the cell, end exclusive. */
export interface EditorDiagnostic {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: "error";
  /** TypeScript's error number (2322 for "Type 'number' is not assignable to type 'string'"). */
  code: number;
  message: string;
}

export type DiagnosticsReply =
  | { type: "diagnostics"; cell: string; version: number; diagnostics: EditorDiagnostic[] }
  | { type: "error"; message: string; cell?: string; version?: number };

/** Why a comm message was refused; its message says what was wrong and what was expected. */
export class DiagnosticsMessageError extends Error {
  readonly code = "DIAGNOSTICS_MESSAGE";
  override readonly name = "DiagnosticsMessageError";
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Checks the data of a comm_open: the protocol version the front end speaks. */
export function parseDiagnosticsOpen(data: Record<string, unknown>): void {
  const version = data["protocol"];
  if (version !== diagnosticsProtocol) {
    throw new DiagnosticsMessageError(`ringbook's kernel speaks diagnostics protocol ${diagnosticsProtocol}, the front end asked for ${describe(version)}`);
  }
}

/** Parses the data of one comm message from the front end; throws a DiagnosticsMessageError saying what is wrong. */
export function parseCheckRequest(data: Record<string, unknown>): CheckRequest {
  const { type, cell, version, source } = data;
  if (type !== "check") throw new DiagnosticsMessageError(`unknown diagnostics message type ${describe(type)}; expected "check"`);
  if (typeof cell !== "string" || cell === "" || cell.length > 256) throw new DiagnosticsMessageError(`"cell" must be a non-empty string of at most 256 characters, got ${describe(cell)}`);
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0) throw new DiagnosticsMessageError(`"version" must be a non-negative integer, got ${describe(version)}`);
  if (typeof source !== "string") throw new DiagnosticsMessageError(`"source" must be a string, got ${describe(source)}`);
  if (source.length > maxCheckedSourceChars) throw new DiagnosticsMessageError(`"source" has ${source.length} characters; cells of more than ${maxCheckedSourceChars} are not checked`);
  const unknownKeys = Object.keys(data).filter((key) => !["type", "cell", "version", "source"].includes(key));
  if (unknownKeys.length > 0) throw new DiagnosticsMessageError(`unknown field(s) ${unknownKeys.map((key) => JSON.stringify(key)).join(", ")} in a "check" message`);
  return { type, cell, version, source };
}

/** The reply to `request` with the checker's diagnostics. */
export function diagnosticsReply(request: CheckRequest, diagnostics: readonly CellDiagnostic[]): DiagnosticsReply {
  return {
    type: "diagnostics",
    cell: request.cell,
    version: request.version,
    diagnostics: diagnostics.map(({ line, column, endLine, endColumn, code, message }) => ({ line, column, endLine, endColumn, severity: "error", code, message })),
  };
}
