/**
 * A minimal nbformat 4 notebook from cell sources; a source starting with "#md " is markdown.
 * `kernelName` is the kernelspec it asks for (default "ringbook").
 */
export function makeNotebook(cells: Array<string | { source: string; tags: string[] }>, options: { kernelName?: string } = {}): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: options.kernelName ?? "ringbook", display_name: "TypeScript (ringbook)", language: "typescript" } },
    cells: cells.map((cell, index) => {
      const source = typeof cell === "string" ? cell : cell.source;
      const tags = typeof cell === "string" ? [] : cell.tags;
      if (source.startsWith("#md ")) return { id: `c${index}`, cell_type: "markdown", metadata: {}, source: source.slice(4) };
      return { id: `c${index}`, cell_type: "code", metadata: tags.length ? { tags } : {}, source, outputs: [], execution_count: null };
    }),
  });
}

/** The outputs of the executed notebook's code cells, as text for assertions. */
export function outputTexts(notebookJson: string): string[][] {
  const notebook = JSON.parse(notebookJson) as { cells: Array<{ cell_type: string; outputs?: Array<Record<string, unknown>> }> };
  return notebook.cells
    .filter((cell) => cell.cell_type === "code")
    .map((cell) =>
      (cell.outputs ?? []).map((output) => {
        if (output["output_type"] === "stream") return String(output["text"]);
        if (output["output_type"] === "error") return `${String(output["ename"])}: ${String(output["evalue"])}`;
        const data = output["data"] as Record<string, unknown> | undefined;
        return String(data?.["text/plain"] ?? "");
      }),
    );
}
