/**
 * The notebook toolbar's interrupt button (■) in the real JupyterLab: JupyterLab asks the server to
 * interrupt the kernel (ringbook's kernelspec says `interrupt_mode: "message"`, so the server sends
 * an interrupt_request on the control channel). A busy loop and a running 2-worker training cell
 * both stop; the cell shows the interrupt error; the kernel keeps its state and runs the next cell.
 */
import assert from "node:assert/strict";
import { describe } from "node:test";
import { trainingCell } from "../helpers/notebooks.js";
import { notebookTest, stepTimeoutMs, useJupyterLab, type NotebookPage } from "./lab-page.js";

/** 64 steps an epoch for 400 epochs: minutes of training, interrupted a few hundred steps in. */
const longTraining = trainingCell({ features: 64, hidden: 64, classes: 4, size: 2048, batchSize: 32, epochs: 400, metricsIntervalMs: 100 });

/**
 * Clicks ■ while cell `index` runs; waits until the cell has finished with the interrupt error;
 * returns how long that took. While a live plot redraws, the page itself can take seconds to
 * handle the click (0.6-30 s here on 2 loaded cores; the kernel answered within 0.3 s of the
 * request): `timeoutMs` bounds the whole.
 */
async function interrupt(notebook: NotebookPage, index: number, timeoutMs = stepTimeoutMs): Promise<number> {
  assert.match(await notebook.cells.nth(index).locator(".jp-InputPrompt").innerText(), /\[\*\]:/, "the cell is running");
  const clickedAt = performance.now();
  await notebook.clickToolbar("notebook:interrupt-kernel", timeoutMs);
  await notebook.finished(index, timeoutMs);
  const stoppedMs = performance.now() - clickedAt;
  await notebook.kernelStatus("idle").waitFor({ timeout: stepTimeoutMs });
  const error = notebook.cells.nth(index).locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').last();
  assert.match(await error.innerText(), /^KeyboardInterrupt: the cell was interrupted/);
  return stoppedMs;
}

describe("JupyterLab: the interrupt button stops a running ringbook cell and keeps the kernel", () => {
  const lab = useJupyterLab();

  notebookTest("■ stops `while (true) {}`: the cell shows KeyboardInterrupt and the next cell sees the variables from before", { timeout: 180_000 }, lab, async (notebook, t) => {
    await notebook.runToEnd(0, "const before = 41;");
    await notebook.run(1, "while (true) {}");
    await notebook.kernelStatus("busy").waitFor({ timeout: stepTimeoutMs });
    t.diagnostic(`click to stopped cell: ${(await interrupt(notebook, 1)).toFixed(0)} ms`);
    await notebook.screenshot("interrupt-busy-loop");

    await notebook.runToEnd(2, "before + 1");
    assert.equal(await notebook.outputText(2), "42");
  });

  notebookTest("■ stops a 2-worker training cell mid-run: the cell shows KeyboardInterrupt, the kernel keeps its variables and the cluster closes from the next cell", { timeout: 300_000 }, lab, async (notebook, t) => {
    const started = performance.now();
    await notebook.runToEnd(0, "const before = 41;");
    await notebook.run(1, longTraining);
    // Training is under way once its live plot has drawn a few dozen steps.
    await notebook.page.waitForFunction(
      `(window.jupyterapp.shell.currentWidget.content.widgets[1].node.querySelector(".ringbook-plotly.js-plotly-plot")?.data?.[0]?.x?.length ?? 0) >= 30`,
      undefined,
      { polling: "raf", timeout: 180_000 },
    );
    t.diagnostic(`training drew 30 steps ${((performance.now() - started) / 1000).toFixed(1)} s after the notebook opened`);
    t.diagnostic(`click to stopped cell: ${(await interrupt(notebook, 1, 180_000)).toFixed(0)} ms`);
    const progress = await notebook.cells.nth(1).locator(".ringbook-progress").innerText();
    assert.doesNotMatch(progress, /^done:/, `the run stopped before its end: ${progress}`);
    await notebook.screenshot("interrupt-training");

    await notebook.runToEnd(2, "[before + 1, typeof cluster]");
    assert.equal(await notebook.outputText(2), "[ 42, 'object' ]");
    const closing = performance.now();
    await notebook.runToEnd(3, 'await cluster.close(); "closed"');
    t.diagnostic(`cluster.close() cell: ${((performance.now() - closing) / 1000).toFixed(1)} s`);
    assert.equal(await notebook.outputText(3), "'closed'");
  });
});
