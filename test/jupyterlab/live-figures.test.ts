/**
 * Live training plots in the real JupyterLab: ringbook-plotly's plugin, loaded by JupyterLab from
 * the labextension `ringbook install` put on the server's path, opens the `ringbook.plotly` comm on
 * the notebook's kernel (it follows JupyterLab's own notebook tracker); a 2-worker training cell's
 * plot then grows from deltas on that comm between the few whole figures the kernel shows. What
 * crossed the comm is read off the page's kernel websocket; that the renderer applied it is seen
 * in the page: a draw of the plot held more points than the whole figure in the notebook's output
 * model.
 * After Kernel > Restart Kernel… the plugin opens the comm again and a second run streams too.
 */
import assert from "node:assert/strict";
import { describe } from "node:test";
import { trainingCell } from "../helpers/notebooks.js";
import { notebookTest, stepTimeoutMs, useJupyterLab, type NotebookPage } from "./lab-page.js";

/**
 * 64 steps an epoch, 20 epochs: 6-15 s of training here, with a metrics update every 100 ms; the
 * page's first draw (loading plotly.js) took up to 4 s on a loaded machine, and deltas must still
 * come after it.
 */
const totalSteps = 1280;
const trainingSource = trainingCell({ features: 64, hidden: 64, classes: 4, size: 2048, batchSize: 32, epochs: 20, metricsIntervalMs: 100 });
/** Bound on a training cell, cluster start and close included (~5 s here). */
const trainingTimeoutMs = 180_000;

/**
 * Installs, in the page, a recorder of every draw of a plot in the notebook: for each
 * `plotly_react` event (the end of each Plotly.react, with which ringbook-plotly draws), the cell's
 * index, how many points the drawn loss trace has, and how many the whole figure in the cell's
 * output model has. A draw with more points than the model can only come from deltas. Events, not
 * sampling: a busy page (plotly.js loading, the first draw) misses none.
 */
const installDrawRecorder = `(() => {
  window.ringbookTestDraws = [];
  const record = (plot) => {
    const panel = window.jupyterapp.shell.currentWidget;
    const index = panel.content.widgets.findIndex((cell) => cell.node.contains(plot));
    const outputs = index < 0 ? undefined : panel.content.widgets[index].model.outputs;
    let modelPoints = -1;
    for (let i = 0; outputs !== undefined && i < outputs.length; i++) {
      const figure = outputs.get(i).data["application/vnd.plotly.v1+json"];
      if (figure !== undefined) modelPoints = figure.data[0].x.length;
    }
    window.ringbookTestDraws.push({ index, drawnPoints: plot.data?.[0]?.x?.length ?? -1, modelPoints });
  };
  const hook = (node) => {
    if (!(node instanceof HTMLElement) || !node.classList.contains("ringbook-plotly") || node.ringbookTestHooked || typeof node.on !== "function") return;
    node.ringbookTestHooked = true;
    node.on("plotly_react", () => record(node));
  };
  new MutationObserver((mutations) => mutations.forEach((mutation) => hook(mutation.target))).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["class"] });
})()`;

/** The draws of cell `index`'s plot recorded so far: [drawn points, model points] each. */
async function drawsOf(notebook: NotebookPage, index: number): Promise<Array<[number, number]>> {
  const draws: unknown = await notebook.page.evaluate("window.ringbookTestDraws");
  assert.ok(Array.isArray(draws), `the draw recorder is installed: ${JSON.stringify(draws)}`);
  return draws.flatMap((draw: unknown) => {
    if (typeof draw !== "object" || draw === null || !("index" in draw) || !("drawnPoints" in draw) || !("modelPoints" in draw)) throw new Error(`a recorded draw: ${JSON.stringify(draw)}`);
    const { drawnPoints, modelPoints } = draw;
    if (typeof drawnPoints !== "number" || typeof modelPoints !== "number") throw new Error(`a recorded draw: ${JSON.stringify(draw)}`);
    return draw.index === index ? [[drawnPoints, modelPoints] as [number, number]] : [];
  });
}

/** The x values of cell `index`'s drawn loss trace. */
async function drawnSteps(notebook: NotebookPage, index: number): Promise<number[]> {
  const steps: unknown = await notebook.page.evaluate(`window.jupyterapp.shell.currentWidget.content.widgets[${index}].node.querySelector(".ringbook-plotly.js-plotly-plot")?.data?.[0]?.x`);
  assert.ok(Array.isArray(steps) && steps.every((step) => typeof step === "number"), `the drawn loss trace's x: ${JSON.stringify(steps)?.slice(0, 200)}`);
  return steps;
}

/**
 * Runs the training cell in cell `index` and follows it to the end; returns the message mark at
 * its start, how many whole figures the kernel sent, and the draws of its plot.
 */
async function trainAndWatch(notebook: NotebookPage, index: number, shot: string): Promise<{ mark: number; wholeFigures: number; draws: Array<[number, number]> }> {
  const mark = notebook.traffic.mark;
  await notebook.run(index, trainingSource);
  await notebook.cells.nth(index).locator(".ringbook-plotly.js-plotly-plot").waitFor({ timeout: trainingTimeoutMs });
  await notebook.screenshot(`${shot}-growing`);
  await notebook.finished(index, trainingTimeoutMs);
  await notebook.kernelStatus("idle").waitFor({ timeout: stepTimeoutMs });
  await notebook.screenshot(`${shot}-done`);

  const text = await notebook.outputText(index);
  assert.doesNotMatch(text, /Error/, text.slice(0, 2000));
  assert.match(text, new RegExp(`done: step ${totalSteps}/${totalSteps}`), "the progress line ends on the last step");
  assert.equal(text.trim().split("\n").at(-1), String(totalSteps), "the cell's result is the step count");
  const steps = await drawnSteps(notebook, index);
  assert.equal(steps.at(-1), totalSteps, "the plot ends on the last step");
  assert.equal(steps[0], 1, "the plot starts on the first step");
  assert.ok(steps.every((step, i) => i === 0 || step > steps[i - 1]!), "steps drawn in order, none twice (a long run's whole figure thins them out)");

  const draws = await drawsOf(notebook, index);
  const wholeFigures = notebook.traffic.wholeFigures(mark);
  assert.ok(
    draws.some(([drawn, model]) => drawn > model),
    `the plot was drawn with more points than the whole figure in the notebook, from deltas (draws [drawn, model]: ${JSON.stringify(draws)}; ` +
      `${notebook.traffic.deltas({ deltasSince: mark })} deltas and ${wholeFigures} whole figures arrived)`,
  );
  return { mark, wholeFigures, draws };
}

describe("JupyterLab: a training cell's live plot grows from deltas on ringbook-plotly's comm", () => {
  const lab = useJupyterLab();

  notebookTest("a 2-worker training cell's plot grows from comm deltas and ends on the last step; after Kernel > Restart Kernel… a second run streams over the comm again", { timeout: 600_000 }, lab, async (notebook, t) => {
    await notebook.page.evaluate(installDrawRecorder);
    const traffic = notebook.traffic;
    const openComm = (openedSince: number) => (): boolean => traffic.figureStreamComms({ openedSince }).some((comm) => !comm.closed);
    const comms = (): string => `figure stream comms: ${JSON.stringify(traffic.figureStreamComms())}`;
    await traffic.waitFor(openComm(0), { timeoutMs: stepTimeoutMs, describe: comms });

    const first = await trainAndWatch(notebook, 0, "live-figure-first");
    const firstDeltas = traffic.deltas({ deltasSince: first.mark });
    t.diagnostic(`first run: ${firstDeltas} deltas on the comm, ${first.wholeFigures} whole figures; draws [drawn, model points]: ${JSON.stringify(first.draws)}`);
    assert.ok(firstDeltas >= 3, `${firstDeltas} deltas arrived on the figure stream comm`);

    // Kernel menu > Restart Kernel…, confirmed in JupyterLab's dialog.
    const beforeRestart = traffic.mark;
    await notebook.menu("Kernel", "Restart Kernel…");
    const dialog = notebook.page.locator(".jp-Dialog");
    await dialog.filter({ hasText: "Restart Kernel?" }).waitFor({ timeout: stepTimeoutMs });
    await dialog.locator("button.jp-mod-accept", { hasText: "Restart" }).click();
    await dialog.waitFor({ state: "hidden", timeout: stepTimeoutMs });
    // JupyterLab announces the restarted kernel (kernelChanged) as soon as restarting is over; the
    // plugin then opens a new comm at once (a restart forgets comms on both sides).
    await notebook.page.waitForFunction(
      "(() => { const context = window.jupyterapp.shell.currentWidget.sessionContext; return context.isReady && !context.isRestarting && context.session?.kernel?.status === 'idle'; })()",
      undefined,
      { timeout: stepTimeoutMs },
    );
    await traffic.waitFor(openComm(beforeRestart), { timeoutMs: stepTimeoutMs, describe: comms });
    assert.ok(traffic.frames.slice(beforeRestart).some((frame) => frame.msgType === "shutdown_reply" && frame.content["restart"] === true), "the kernel was restarted");

    const second = await trainAndWatch(notebook, 1, "live-figure-after-restart");
    const secondDeltas = traffic.deltas({ openedSince: beforeRestart, deltasSince: second.mark });
    t.diagnostic(`after the restart: ${secondDeltas} deltas on the new comm, ${second.wholeFigures} whole figures; draws [drawn, model points]: ${JSON.stringify(second.draws)}`);
    assert.ok(secondDeltas >= 3, `${secondDeltas} deltas arrived on the comm opened after the restart`);
    assert.equal(traffic.deltas({ deltasSince: second.mark }), secondDeltas, "none on the comms from before the restart, which the kernel forgot");
  });
});
