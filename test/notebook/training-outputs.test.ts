/**
 * A training run's live view is never lost from the saved notebook. Started in one cell and
 * awaited in the next, the starting cell ends on the run's final state (`done:` and the figure
 * with its static image), with `ringbook run` (which keeps listening to every cell) and with
 * nbclient (`jupyter nbconvert --execute`, which follows a cell only until its idle). A
 * `ringbook run` stopped by SIGINT or SIGTERM mid-run, and one whose notebook ends with a run
 * still in flight, save `stopped:` with the static image. Runs are tiny: synthetic data, 2 workers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess } from "../helpers/run-process.js";
import { makeNotebook } from "../helpers/notebooks.js";
import { createJupyterEnv } from "../helpers/jupyter-env.js";

const cli = fileURLToPath(new URL("../../kernel/cli.js", import.meta.url));

/** Cell 1: a cluster, and a run started without `await` (4 steps an epoch). */
function startCell(epochs: number): string {
  return `import { launchCluster } from "ringbook";
const cluster = await launchCluster({ workers: 2 });
const run = cluster.train({
  model: ({ tf }) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: "softmax" })] }),
  data: { builtin: "synthetic", size: 64, features: 4, classes: 3 },
  batchSize: 16,
  epochs: ${epochs},
  metricsIntervalMs: 20,
});`;
}

/** Cell 2: awaits the run started in cell 1. */
const awaitCell = "const result = await run;\nawait cluster.close();\nresult.steps";

type Output = { output_type: string; data?: Record<string, unknown>; text?: string };

/** The outputs of code cell `index` (0-based) of a saved notebook. */
function outputsOf(notebookJson: string, index: number): Output[] {
  const notebook: unknown = JSON.parse(notebookJson);
  assert.ok(typeof notebook === "object" && notebook !== null && "cells" in notebook && Array.isArray(notebook.cells), "a notebook");
  const cells = (notebook.cells as Array<{ cell_type: string; outputs?: Output[] }>).filter((cell) => cell.cell_type === "code");
  return cells[index]?.outputs ?? [];
}

/** nbformat text, which a writer may split into a list of lines (nbconvert does). */
function multiline(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join("") : String(value ?? "");
}

/** The run's two displays in a cell: its progress line and its figure. */
function liveView(outputs: Output[]): { progress: string; figure: Record<string, unknown> } {
  const displays = outputs.filter((output) => output.output_type === "display_data");
  const figure = displays.find((output) => output.data?.["application/vnd.plotly.v1+json"] !== undefined)?.data;
  const progress = displays.find((output) => output.data?.["application/vnd.plotly.v1+json"] === undefined)?.data?.["text/plain"];
  assert.ok(figure !== undefined && progress !== undefined, `the cell shows the run's progress line and figure: ${JSON.stringify(outputs).slice(0, 1500)}`);
  return { progress: multiline(progress), figure };
}

/** Checks that the figure is the final one: its static image, and its loss trace up to `lastStep` when given. */
function assertFinalFigure(figure: Record<string, unknown>, lastStep?: number): void {
  assert.match(multiline(figure["image/svg+xml"]), /^<svg /, "the final figure has its static image");
  const plotly = figure["application/vnd.plotly.v1+json"] as { data: Array<{ x: number[] }> };
  const steps = plotly.data[0]?.x ?? [];
  assert.ok(steps.length > 0, "the figure has the run's steps");
  if (lastStep !== undefined) assert.equal(steps.at(-1), lastStep, "the figure ends on the last step");
}

async function withDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "ringbook-training-outputs-"));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("ringbook run: a run started in cell 1 and awaited in cell 2 saves its final state (done:, the figure with its static image) in cell 1", async () => {
  await withDir(async (dir) => {
    const input = join(dir, "later.ipynb");
    await writeFile(input, makeNotebook([startCell(3), awaitCell]));
    const result = await runProcess(process.execPath, [cli, "run", input], { timeoutMs: 120_000 });
    assert.equal(result.code, 0, result.stderr);
    const executed = await readFile(join(dir, "later.out.ipynb"), "utf8");
    const { progress, figure } = liveView(outputsOf(executed, 0));
    assert.match(progress, /^done: step 12\/12 · epoch 3\/3 · loss /);
    assertFinalFigure(figure, 12);
    const second = outputsOf(executed, 1);
    assert.deepEqual(second.map((output) => output.output_type), ["execute_result"], "the awaiting cell shows only its result");
    assert.equal(multiline(second[0]?.data?.["text/plain"]), "12");
  });
});

test("nbconvert --execute: a run started in cell 1 and awaited in cell 2 saves its final state in cell 1", async () => {
  const jupyter = await createJupyterEnv();
  try {
    const input = join(jupyter.dir, "later.ipynb");
    await writeFile(input, makeNotebook([startCell(3), awaitCell]));
    const result = await runProcess("jupyter", ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=120", "--output", "executed.ipynb", input], {
      env: jupyter.env,
      cwd: jupyter.dir,
      timeoutMs: 180_000,
    });
    assert.equal(result.code, 0, result.stderr);
    const executed = await readFile(join(jupyter.dir, "executed.ipynb"), "utf8");
    const { progress, figure } = liveView(outputsOf(executed, 0));
    assert.match(progress, /^done: step 12\/12 · epoch 3\/3 · loss /);
    assertFinalFigure(figure, 12);
    assert.deepEqual(outputsOf(executed, 1).map((output) => output.output_type), ["execute_result"], "the awaiting cell shows only its result");
  } finally {
    await jupyter.close();
  }
});

test("ringbook run: a run still in flight when the notebook ends is stopped at the kernel's shutdown and saves stopped: with the static image", async () => {
  await withDir(async (dir) => {
    const input = join(dir, "unawaited.ipynb");
    // Cell 2 waits for the first steps, then the notebook ends with the run going on.
    await writeFile(input, makeNotebook([startCell(100_000), "for await (const step of run.metrics) if (step.step >= 3) break;"]));
    const result = await runProcess(process.execPath, [cli, "run", input], { timeoutMs: 120_000 });
    assert.equal(result.code, 0, result.stderr);
    const { progress, figure } = liveView(outputsOf(await readFile(join(dir, "unawaited.out.ipynb"), "utf8"), 0));
    assert.match(progress, /^stopped: step \d+\/400000 · epoch \d+\/100000 · loss /);
    assertFinalFigure(figure);
  });
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  test(`ringbook run stopped by ${signal} mid-run stops the run, saves stopped: with the static image, and exits ${code}`, async () => {
    await withDir(async (dir) => {
      const input = join(dir, "signalled.ipynb");
      const output = join(dir, "signalled.out.ipynb");
      await writeFile(input, makeNotebook([startCell(100_000), awaitCell, 'console.log("never")']));
      let signalled: Promise<void> | undefined;
      const result = await runProcess(process.execPath, [cli, "run", input, "-o", output], {
        timeoutMs: 120_000,
        onSpawn: (pid) => {
          signalled = (async () => {
            // The executed copy is rewritten as outputs arrive: once it shows steps, the run is on.
            const deadline = Date.now() + 90_000;
            while (Date.now() < deadline) {
              const text = await readFile(output, "utf8").catch(() => "");
              if (/training: step [1-9]/.test(text)) break;
              await new Promise((resolve) => setTimeout(resolve, 100));
            }
            process.kill(pid, signal);
          })();
        },
      });
      await signalled;
      assert.equal(result.code, code, result.stderr);
      assert.match(result.stderr, new RegExp(`the run was stopped \\(${signal}\\) while cell 2 ran`));
      const executed = await readFile(output, "utf8");
      const { progress, figure } = liveView(outputsOf(executed, 0));
      assert.match(progress, /^stopped: step \d+\/400000 · epoch \d+\/100000 · loss /);
      assertFinalFigure(figure);
      assert.deepEqual(outputsOf(executed, 2), [], "the cell after the stopped one did not run");
    });
  });
}
