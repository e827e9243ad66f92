/**
 * Errors → Jupyter's `ename`/`evalue`/`traceback`, with stack frames of cells written as
 * `In[5] line 3:7` and the kernel's own frames left out.
 */
import { fileURLToPath } from "node:url";
import { inspectPlain } from "../display/mime-bundle.js";
import { CellSyntaxError, type CellSources } from "../../lib/script/index.js";

/** The error part of an execute outcome. */
export interface FormattedError {
  ename: string;
  evalue: string;
  traceback: string[];
}

const kernelRoot = fileURLToPath(new URL("../../", import.meta.url));
const libScriptRoot = fileURLToPath(new URL("../../lib/script/", import.meta.url));
const cellFrame = /(?:file:\/\/)?\/[^\s()]*?\/(In\[\d+\]):(\d+):(\d+)/g;

/**
 * Formats a thrown value; `cellName` (e.g. `In[5]`) names the cell for syntax errors, and frames in
 * cells recorded in `sources` get their TypeScript line and column.
 */
export function formatError(error: unknown, cellName: string, sources?: CellSources): FormattedError {
  if (error instanceof CellSyntaxError) {
    return {
      ename: "SyntaxError",
      evalue: `${error.message.replace(/ \(line \d+:\d+\)$/, "")} (${cellName} line ${error.line}:${error.column})`,
      traceback: [`SyntaxError: ${error.message.replace(/ \(line \d+:\d+\)$/, "")}`, `    at ${cellName} line ${error.line}:${error.column}`],
    };
  }
  if (!(error instanceof Error)) {
    const evalue = inspectPlain(error);
    return { ename: "Uncaught", evalue, traceback: [`Uncaught ${evalue}`] };
  }
  const ename = error.name || error.constructor.name || "Error";
  const evalue = error.message;
  const stackLines = typeof error.stack === "string" ? error.stack.split("\n") : [];
  const frames = stackLines.filter((line) => /^\s+at /.test(line)).filter(isUserFrame).map((line) => renameCellFrames(line, sources));
  const header = `${ename}: ${evalue}`;
  const traceback = [header, ...frames];
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && !header.includes(code)) traceback[0] = `${header} [${code}]`;
  if (error.cause !== undefined) traceback.push(`Caused by: ${error.cause instanceof Error ? `${error.cause.name}: ${error.cause.message}` : inspectPlain(error.cause)}`);
  return { ename, evalue, traceback };
}

function isUserFrame(line: string): boolean {
  if (line.includes("node:internal") || line.includes("(node:")) return false;
  if (/In\[\d+\]:\d+:\d+/.test(line)) return true;
  return !line.includes(kernelRoot + "kernel/") && !line.includes(libScriptRoot);
}

function renameCellFrames(line: string, sources: CellSources | undefined): string {
  return line.replace(cellFrame, (_match, name: string, row: string, column: string) => {
    const position = sources?.originalPosition(name, Number(row), Number(column)) ?? { line: Number(row), column: Number(column) };
    return `${name} line ${position.line}:${position.column}`;
  });
}
