/**
 * What a user sees in the real JupyterLab for three things ringbook is being changed to do:
 * a type error is reported in the cell's output with its TypeScript code; output printed by a
 * timer after the cell has finished still shows in that cell; `display.plotly` draws a figure given
 * without a layout. Each test is written as a user would check it, ahead of the changes: when this
 * file was added, the type error test failed (in the default type-check mode nothing is reported
 * until a completion or inspection has started the language service) and so did the figure without
 * a layout (the kernel throws a TypeError); late output already showed, since JupyterLab 4.6 keeps
 * a cell's request open after its reply, and the kernel sends the line with the cell as parent.
 * A fourth, added with issue 13: a training run started in one cell and awaited in the next shows
 * its live view, and ends on its final state, in the cell that started it.
 */
import assert from "node:assert/strict";
import { describe } from "node:test";
import { errors } from "playwright-core";
import { notebookTest, stepTimeoutMs, useJupyterLab, type NotebookPage } from "./lab-page.js";

/** How long a user would wait for a deferred type check or a late line before calling it lost. */
const patienceMs = 15_000;

/** Waits for `text` in cell `index`'s outputs; fails with what the cell shows instead. */
async function expectOutput(notebook: NotebookPage, index: number, text: string | RegExp): Promise<void> {
  try {
    await notebook.waitForOutput(index, text, patienceMs);
  } catch (error) {
    if (!(error instanceof errors.TimeoutError)) throw error;
    assert.fail(`${String(text)} did not show in cell ${index}'s output within ${patienceMs} ms; the cell shows ${JSON.stringify(await notebook.outputText(index))}`);
  }
}

describe("JupyterLab: type errors, late output and a figure without a layout show in the notebook", () => {
  const lab = useJupyterLab();

  notebookTest("a type error (`const typed: string = 5;`) shows TS2322 in the cell's output", { timeout: 120_000 }, lab, async (notebook) => {
    await notebook.runToEnd(0, "const typed: string = 5;");
    await expectOutput(notebook, 0, /TS2322/);
    assert.match(await notebook.outputText(0), /TS2322: Type 'number' is not assignable to type 'string'/);
    await notebook.screenshot("type-error");
  });

  notebookTest("output printed by a timer after its cell finished (`setTimeout(() => console.log(\"late output\"), 300)`) shows in that cell", { timeout: 120_000 }, lab, async (notebook) => {
    // A first cell: the first cell of a kernel waits for the type checker to start (up to a
    // second or two here), by which time a 300 ms timer would have fired inside it.
    await notebook.runToEnd(0, "1");
    await notebook.runToEnd(1, 'setTimeout(() => console.log("late output"), 300);');
    await expectOutput(notebook, 1, "late output");
    await notebook.screenshot("late-output");
    // It really came late: after the kernel had replied to the cell and gone idle.
    const frames = notebook.traffic.frames;
    const request = frames.filter((frame) => frame.msgType === "execute_request" && frame.direction === "sent")[1];
    assert.ok(request !== undefined, "the cell's execute_request was sent");
    const ofCell = (predicate: (frame: (typeof frames)[number]) => boolean): number => frames.findIndex((frame) => frame.parentMsgId === request.msgId && predicate(frame));
    const reply = ofCell((frame) => frame.msgType === "execute_reply");
    const idle = ofCell((frame) => frame.msgType === "status" && frame.content["execution_state"] === "idle");
    const line = ofCell((frame) => frame.msgType === "stream" && frame.content["text"] === "late output\n");
    assert.ok(reply >= 0 && idle >= 0 && line > reply && line > idle, `the line (message ${line}) came after the execute_reply (${reply}) and the idle status (${idle})`);
  });

  notebookTest("a training run started in one cell (`const run = cluster.train(...)`) and awaited in the next shows in the first cell and ends there on done: with its plot", { timeout: 300_000 }, lab, async (notebook) => {
    await notebook.runToEnd(0, "1");
    const start = [
      'import { launchCluster } from "ringbook";',
      "const cluster = await launchCluster({ workers: 2 });",
      'const run = cluster.train({ model: ({ tf }) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: "softmax" })] }), data: { builtin: "synthetic", size: 64, features: 4, classes: 3 }, batchSize: 16, epochs: 3 });',
    ].join("\n");
    await notebook.runToEnd(1, start, 180_000);
    await notebook.runToEnd(2, "const result = await run;\nawait cluster.close();\nresult.steps", 180_000);
    await expectOutput(notebook, 1, /done: step 12\/12/);
    await notebook.cells.nth(1).locator(".ringbook-plotly.js-plotly-plot").waitFor({ timeout: stepTimeoutMs });
    await notebook.screenshot("run-awaited-later");
    const steps: unknown = await notebook.page.evaluate(`window.jupyterapp.shell.currentWidget.content.widgets[1].node.querySelector(".ringbook-plotly.js-plotly-plot")?.data?.[0]?.x`);
    assert.ok(Array.isArray(steps) && steps.at(-1) === 12, `the plot in the first cell ends on the last step: ${JSON.stringify(steps)}`);
    const awaiting = await notebook.outputText(2);
    assert.equal(awaiting.trim(), "12", "the awaiting cell shows only its result");
  });

  notebookTest("display.plotly({ data: [{ y: [1, 3, 2] }] }) without a layout draws the plot", { timeout: 120_000 }, lab, async (notebook) => {
    await notebook.run(0, "display.plotly({ data: [{ y: [1, 3, 2] }] })");
    const plot = notebook.cells.nth(0).locator(".ringbook-plotly.js-plotly-plot");
    const error = notebook.cells.nth(0).locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
    await plot.or(error).first().waitFor({ timeout: stepTimeoutMs });
    await notebook.screenshot("plotly-without-layout");
    assert.equal(await error.count(), 0, `the cell printed an error: ${await notebook.outputText(0)}`);
    const y: unknown = await notebook.page.evaluate(`window.jupyterapp.shell.currentWidget.content.widgets[0].node.querySelector(".ringbook-plotly.js-plotly-plot")?.data?.[0]?.y`);
    assert.deepEqual(y, [1, 3, 2]);
    assert.equal(await plot.locator(".scatterlayer .trace").count(), 1, "one trace drawn");
  });
});
