// Writes an nbformat 4 notebook from a template in jupytext's "percent" format for TypeScript:
// cells start at lines "// %% [markdown]", "// %%" or "// %% parameters", markdown lines start
// with "// ". Templates are reviewed and diffed as code; test/notebooks checks the .ipynb files
// are up to date. Usage: node scripts/make-notebook.mjs notebooks/src/NAME.ts notebooks/NAME.ipynb
import { readFileSync, writeFileSync } from "node:fs";

const [source, output] = process.argv.slice(2);
if (!source || !output) {
  console.error("usage: node scripts/make-notebook.mjs SOURCE OUT.ipynb");
  process.exit(2);
}
const cells = [];
let current;
for (const line of readFileSync(source, "utf8").split("\n")) {
  const marker = /^\/\/ %%(?: \[(markdown)\])?(?: (parameters))?\s*$/.exec(line);
  if (marker) {
    current = { kind: marker[1] ? "markdown" : "code", tags: marker[2] ? ["parameters"] : [], lines: [] };
    cells.push(current);
  } else if (current) {
    current.lines.push(current.kind === "markdown" ? line.replace(/^\/\/ ?/, "") : line);
  }
}
const notebook = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {
    kernelspec: { name: "ringbook", display_name: "TypeScript (ringbook)", language: "typescript" },
    language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
  },
  cells: cells.map((cell, index) => {
    while (cell.lines.length > 0 && cell.lines.at(-1).trim() === "") cell.lines.pop();
    const text = cell.lines.map((line, i) => (i < cell.lines.length - 1 ? `${line}\n` : line));
    const id = `cell-${index}`;
    if (cell.kind === "markdown") return { id, cell_type: "markdown", metadata: {}, source: text };
    return { id, cell_type: "code", metadata: cell.tags.length ? { tags: cell.tags } : {}, source: text, outputs: [], execution_count: null };
  }),
};
writeFileSync(output, `${JSON.stringify(notebook, null, 1)}\n`);
