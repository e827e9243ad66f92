/**
 * The `ringbook.diagnostics` comm as the front end speaks it (the kernel's side is ringbook's
 * kernel/language/diagnostics-protocol.ts): the extension sends the source of the cell being
 * edited, the kernel answers with that cell's type errors as it would run now, after the cells
 * that ran. Everything from the kernel is checked here, at the boundary.
 */

/** The comm target ringbook's kernel serves. */
export const diagnosticsTarget = "ringbook.diagnostics";

/** The version of the comm's messages this extension speaks (sent when it opens the comm). */
export const diagnosticsProtocol = 1;

/** What the extension sends: one version of one cell's source. */
export interface CheckRequest {
  type: "check";
  cell: string;
  version: number;
  source: string;
}

/** One type error, positions 1-based within the cell, end exclusive. */
export interface CellTypeError {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: "error";
  code: number;
  message: string;
}

export type DiagnosticsReply =
  | { type: "diagnostics"; cell: string; version: number; diagnostics: CellTypeError[] }
  | { type: "error"; message: string; cell?: string; version?: number };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isPosition(value: unknown): value is number {
  return isCount(value) && value >= 1;
}

function parseTypeError(value: unknown, index: number): CellTypeError {
  if (!isRecord(value)) throw new TypeError(`diagnostics reply: diagnostic ${index} is not an object`);
  const { line, column, endLine, endColumn, severity, code, message } = value;
  if (!isPosition(line) || !isPosition(column) || !isPosition(endLine) || !isPosition(endColumn)) {
    throw new TypeError(`diagnostics reply: diagnostic ${index} needs 1-based integer positions, got ${JSON.stringify({ line, column, endLine, endColumn })}`);
  }
  if (severity !== "error") throw new TypeError(`diagnostics reply: diagnostic ${index} has severity ${JSON.stringify(severity)}; expected "error"`);
  if (!isCount(code) || typeof message !== "string") throw new TypeError(`diagnostics reply: diagnostic ${index} needs a numeric "code" and a string "message"`);
  return { line, column, endLine, endColumn, severity, code, message };
}

/** Parses one comm message's data from the kernel; throws a TypeError saying what is wrong. */
export function parseDiagnosticsReply(value: unknown): DiagnosticsReply {
  if (!isRecord(value)) throw new TypeError("diagnostics reply: expected an object");
  const { type, cell, version } = value;
  if (type === "error") {
    const message = value["message"];
    if (typeof message !== "string") throw new TypeError('diagnostics reply: an error needs a string "message"');
    return { type, message, ...(typeof cell === "string" ? { cell } : {}), ...(isCount(version) ? { version } : {}) };
  }
  if (type !== "diagnostics") throw new TypeError(`diagnostics reply: unknown type ${JSON.stringify(type)}`);
  if (typeof cell !== "string" || !isCount(version)) throw new TypeError('diagnostics reply: "cell" must be a string and "version" a non-negative integer');
  const diagnostics = value["diagnostics"];
  if (!Array.isArray(diagnostics)) throw new TypeError('diagnostics reply: "diagnostics" must be an array');
  return { type, cell, version, diagnostics: diagnostics.map((item: unknown, index) => parseTypeError(item, index)) };
}
