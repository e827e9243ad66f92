import { readFile, rename, writeFile } from "node:fs/promises";
import { RingbookError } from "../../lib/errors.js";
import { isJsonObject, type JsonObject } from "../protocol/json-guards.js";

/** One nbformat 4 output. */
export type NotebookOutput =
  | { output_type: "stream"; name: "stdout" | "stderr"; text: string }
  | { output_type: "display_data"; data: JsonObject; metadata: JsonObject; transient?: JsonObject }
  | { output_type: "execute_result"; data: JsonObject; metadata: JsonObject; execution_count: number | null }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

export interface CodeCell {
  cell_type: "code";
  id?: string;
  source: string;
  metadata: JsonObject;
  outputs: NotebookOutput[];
  execution_count: number | null;
}

export interface OtherCell {
  cell_type: "markdown" | "raw";
  id?: string;
  source: string;
  metadata: JsonObject;
  [key: string]: unknown;
}

export type Cell = CodeCell | OtherCell;

/** An nbformat 4 notebook; unknown top-level and metadata fields are kept as they were. */
export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: JsonObject;
  cells: Cell[];
  [key: string]: unknown;
}

/** A notebook file that is not JSON or not nbformat 4. */
export class NotebookFormatError extends RingbookError {
  constructor(path: string, why: string, options?: { cause?: unknown }) {
    super("ERR_NOTEBOOK_FORMAT", `${path}: ${why}`, options);
  }
}

/** Reads and validates a notebook; the file itself is never modified. */
export async function readNotebook(path: string): Promise<Notebook> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new RingbookError(code === "ENOENT" ? "ERR_NOTEBOOK_MISSING" : "ERR_NOTEBOOK_READ", `${path}: ${code === "ENOENT" ? "no such notebook" : (error as Error).message}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new NotebookFormatError(path, `not valid JSON (${(error as Error).message})`, { cause: error });
  }
  return parseNotebook(value, path);
}

/** Validates parsed notebook JSON into a {@link Notebook}; multi-line sources are joined. */
export function parseNotebook(value: unknown, path = "notebook"): Notebook {
  if (!isJsonObject(value)) throw new NotebookFormatError(path, "not a JSON object");
  if (value["nbformat"] !== 4) throw new NotebookFormatError(path, `nbformat ${JSON.stringify(value["nbformat"])} is not supported; ringbook runs nbformat 4 notebooks`);
  const cells = value["cells"];
  if (!Array.isArray(cells)) throw new NotebookFormatError(path, "has no cells list");
  const metadata = value["metadata"] ?? {};
  if (!isJsonObject(metadata)) throw new NotebookFormatError(path, "metadata is not an object");
  const minor = value["nbformat_minor"];
  return {
    ...value,
    nbformat: 4,
    nbformat_minor: typeof minor === "number" ? minor : 4,
    metadata,
    cells: cells.map((cell, index) => parseCell(cell, index, path)),
  };
}

function parseCell(value: unknown, index: number, path: string): Cell {
  const where = `cell ${index + 1}`;
  if (!isJsonObject(value)) throw new NotebookFormatError(path, `${where} is not an object`);
  const type = value["cell_type"];
  const source = joinSource(value["source"], `${where} source`, path);
  const metadata = value["metadata"] ?? {};
  if (!isJsonObject(metadata)) throw new NotebookFormatError(path, `${where} metadata is not an object`);
  const id = typeof value["id"] === "string" ? { id: value["id"] } : {};
  if (type === "code") {
    const outputs = Array.isArray(value["outputs"]) ? (value["outputs"] as NotebookOutput[]) : [];
    const count = value["execution_count"];
    return { ...id, cell_type: "code", source, metadata, outputs, execution_count: typeof count === "number" ? count : null };
  }
  if (type === "markdown" || type === "raw") return { ...value, ...id, cell_type: type, source, metadata };
  throw new NotebookFormatError(path, `${where} has unknown cell_type ${JSON.stringify(type)}`);
}

function joinSource(source: unknown, what: string, path: string): string {
  if (typeof source === "string") return source;
  if (Array.isArray(source) && source.every((line) => typeof line === "string")) return source.join("");
  throw new NotebookFormatError(path, `${what} must be a string or a list of strings`);
}

/** The tags of a cell (`metadata.tags`), or none. */
export function cellTags(cell: Cell): string[] {
  const tags = cell.metadata["tags"];
  return Array.isArray(tags) ? tags.filter((tag): tag is string => typeof tag === "string") : [];
}

/** Writes a notebook atomically (temporary file, then rename): a reader never sees half a file. */
export async function writeNotebook(path: string, notebook: Notebook): Promise<void> {
  const temporary = `${path}.ringbook-${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(notebook, null, 1)}\n`);
  await rename(temporary, path);
}
