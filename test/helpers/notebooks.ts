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

/** A training run as a notebook cell: an MLP on synthetic data on a fresh 2-worker cluster, closed at the end; the cell's result is the step count. */
export function trainingCell(options: { features: number; hidden: number; classes: number; size: number; batchSize: number; epochs: number; metricsIntervalMs: number; live?: { maxUpdatesPerSecond?: number; maxPoints?: number } }): string {
  const { features, hidden, classes, size, batchSize, epochs, metricsIntervalMs } = options;
  const live = options.live === undefined ? "" : `\n  live: ${JSON.stringify(options.live)},`;
  return `import { launchCluster } from "ringbook";
const cluster = await launchCluster({ workers: 2 });
const run = cluster.train({
  model: ({ tf }) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [${features}], units: ${hidden}, activation: "relu" }), tf.layers.dense({ units: ${classes}, activation: "softmax" })] }),
  data: { builtin: "synthetic", size: ${size}, features: ${features}, classes: ${classes} },
  batchSize: ${batchSize},
  epochs: ${epochs},
  metricsIntervalMs: ${metricsIntervalMs},${live}
});
const result = await run;
await cluster.close();
result.steps`;
}
