import { RingbookError } from "../../lib/errors.js";
import { cellTags, type Cell, type CodeCell, type Notebook } from "./notebook-file.js";

/** A parameter value from the command line. */
export type ParameterValue = number | string | boolean | null | ParameterValue[] | { [key: string]: ParameterValue };

/**
 * Reads `-p NAME VALUE` as papermill does: numbers, `true`/`false`, `null`, JSON arrays and
 * objects become those values; anything else stays a string.
 */
export function parseParameterValue(text: string): ParameterValue {
  const trimmed = text.trim();
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(trimmed)) return Number(trimmed);
  if (trimmed === "true" || trimmed === "false") return trimmed === "true";
  if (trimmed === "null") return null;
  if (/^[[{"]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed) as ParameterValue;
    } catch {
      // Not JSON after all: a string that happens to start with a bracket.
    }
  }
  return text;
}

/** A TypeScript identifier that can be declared with `let`. */
function checkName(name: string): void {
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) {
    throw new RingbookError("ERR_BAD_PARAMETER", `parameter name ${JSON.stringify(name)} is not a valid TypeScript identifier`);
  }
}

/**
 * Papermill's convention: a new cell tagged `injected-parameters` holding the given values goes
 * right after the cell tagged `parameters` (or first, when there is none); an injected cell from an
 * earlier run is replaced. Declarations use `let` so the names may be declared again later.
 */
export function injectParameters(notebook: Notebook, parameters: ReadonlyMap<string, ParameterValue>): Notebook {
  if (parameters.size === 0) return notebook;
  const lines = ["// Parameters injected by ringbook run"];
  for (const [name, value] of parameters) {
    checkName(name);
    lines.push(`let ${name} = ${JSON.stringify(value)};`);
  }
  const injected: CodeCell = {
    cell_type: "code",
    id: "injected-parameters",
    source: lines.join("\n"),
    metadata: { tags: ["injected-parameters"] },
    outputs: [],
    execution_count: null,
  };
  const cells: Cell[] = notebook.cells.filter((cell) => !cellTags(cell).includes("injected-parameters"));
  const at = cells.findIndex((cell) => cellTags(cell).includes("parameters"));
  cells.splice(at + 1, 0, injected);
  return { ...notebook, cells };
}
