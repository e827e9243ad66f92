/**
 * The live training plot in Debian's classic notebook (notebook 6.4), end to end: a private
 * Jupyter environment with the kernelspec and the nbextension copy of plotly.js that
 * `ringbook install` writes, the real notebook server on 127.0.0.1, Debian's chromium driven by
 * playwright-core running a training cell on a 2-worker cluster. The classic notebook renders the
 * figure's `text/html`: its static SVG is replaced by a plotly.js plot, which must gain points while
 * the run trains, end on the last step, and load plotly.js once for the page however many updates
 * arrive (the saved output is checked in long-run.test.ts). Screenshots go to test-artifacts/.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { nbextensionPlotlyPath } from "../../kernel/display/plotly-bundle.js";
import { startClassicNotebook, type ClassicNotebookServer } from "../helpers/classic-notebook.js";
import { createJupyterEnv } from "../helpers/jupyter-env.js";
import { makeNotebook, trainingCell } from "../helpers/notebooks.js";
import { repoRoot } from "../kernel/helpers.js";
import { chromiumLaunchOptions } from "../helpers/chromium.js";

const kernelName = "ringbook-test";
const artifactsDir = join(repoRoot, "test-artifacts");

/**
 * 40 epochs of 28 steps, a few hundred steps a second: a run of a few seconds, long enough for
 * several whole-figure updates (at most one a second). The figure keeps 2,000 points, more than
 * the steps, so the loss trace has one x value per step shown.
 */
const epochs = 40;
const totalSteps = 28 * epochs;
const trainingSource = trainingCell({ features: 512, hidden: 512, classes: 10, size: 3584, batchSize: 128, epochs, metricsIntervalMs: 100, live: { maxPoints: 2000 } });

/** What the test reads from the page: the first cell's output area. */
interface CellState {
  /** Output types in order (stream output, e.g. a worker's log line, may come between). */
  outputs: string[];
  plots: number;
  staticSvgs: number;
  lossPoints: number;
  lastStep: number | null;
  progress: string;
  progressLines: number;
  result: string;
  busy: boolean;
  /** `.ringbook-plot` elements inserted since the observer was installed (one per figure update the page rendered). */
  plotsInserted: number;
  plotlyScripts: number;
}

const readCell = `(() => {
  const cell = Jupyter.notebook.get_cell(0);
  const out = cell.output_area.element[0];
  const plots = out.querySelectorAll(".js-plotly-plot");
  const plot = plots[plots.length - 1];
  const loss = plot && Array.isArray(plot.data) ? plot.data.find((trace) => trace.name === "loss") : undefined;
  const progress = out.querySelectorAll(".ringbook-progress");
  const result = out.querySelector(".output_result");
  return {
    outputs: cell.output_area.outputs.map((output) => output.output_type),
    plots: plots.length,
    staticSvgs: out.querySelectorAll(".ringbook-plot > svg").length,
    lossPoints: loss ? loss.x.length : 0,
    lastStep: loss ? loss.x[loss.x.length - 1] : null,
    progress: progress.length ? progress[progress.length - 1].textContent : "",
    progressLines: progress.length,
    result: result ? result.textContent.trim() : "",
    busy: Jupyter.notebook.kernel_busy,
    plotsInserted: window.__ringbookPlotsInserted || 0,
    plotlyScripts: document.querySelectorAll('script[src$="${nbextensionPlotlyPath}"]').length,
  };
})()`;

/** Counts figure updates the page renders: the classic notebook replaces the output element on each. */
const countInsertedPlots = `(() => {
  window.__ringbookPlotsInserted = 0;
  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      for (const node of mutation.addedNodes) {
        if (node.nodeType !== 1) continue;
        if (node.matches(".ringbook-plot")) window.__ringbookPlotsInserted++;
        window.__ringbookPlotsInserted += node.querySelectorAll(".ringbook-plot").length;
      }
    }
  }).observe(document.getElementById("notebook"), { childList: true, subtree: true });
})()`;

describe("the live training plot in Debian's classic notebook", () => {
  let jupyter: Awaited<ReturnType<typeof createJupyterEnv>>;
  let server: ClassicNotebookServer;
  let browser: BrowserContext;
  let notebookDir: string;

  before(async () => {
    jupyter = await createJupyterEnv({ kernelName });
    notebookDir = join(jupyter.dir, "notebooks");
    await mkdir(notebookDir);
    await mkdir(artifactsDir, { recursive: true });
    await writeFile(join(notebookDir, "train.ipynb"), makeNotebook([trainingSource], { kernelName }));
    server = await startClassicNotebook({ env: jupyter.env, notebookDir, ownedPath: jupyter.dir });
    browser = await chromium.launchPersistentContext(join(jupyter.dir, "chromium-profile"), {
      ...chromiumLaunchOptions,
      viewport: { width: 1200, height: 1000 },
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await jupyter?.close();
  });

  /** Opens the notebook and waits for its kernel; records page errors and every URL asked for. */
  async function openNotebook(): Promise<{ page: Page; errors: string[]; urls: string[] }> {
    const page = await browser.newPage();
    const errors: string[] = [];
    const urls: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("request", (request) => urls.push(request.url()));
    await page.goto(server.notebookUrl("train.ipynb"));
    await page.waitForFunction("window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()", undefined, { timeout: 60_000 });
    assert.equal(await page.evaluate("Jupyter.notebook.kernel.name"), kernelName);
    return { page, errors, urls };
  }

  test("a training cell draws a plotly chart that gains points while it trains, ends on the last step with the progress line done, and loads plotly.js once for all updates", { timeout: 240_000 }, async (t) => {
    const { page, errors, urls } = await openNotebook();
    try {
      await page.evaluate(countInsertedPlots);
      await page.click(".cell .CodeMirror");
      await page.keyboard.press("Shift+Enter");

      // Poll the output while the run trains: every state seen, a screenshot part-way through.
      const seen: Array<CellState & { atMs: number }> = [];
      const startedAt = Date.now();
      let midShot = false;
      for (;;) {
        const state = (await page.evaluate(readCell)) as CellState;
        seen.push({ ...state, atMs: Date.now() - startedAt });
        if (!midShot && state.progress.startsWith("training:") && state.lossPoints >= totalSteps / 3) {
          await page.screenshot({ path: join(artifactsDir, "classic-notebook-training-mid.png") });
          midShot = true;
        }
        if (!state.busy && state.result !== "") break;
        assert.ok(Date.now() - startedAt < 180_000, `the cell did not finish within 180 s; last state ${JSON.stringify(state)}\n--- server log ---\n${server.log()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const final = seen.at(-1)!;
      await page.locator(".cell").first().screenshot({ path: join(artifactsDir, "classic-notebook-training-done.png") });
      const timeline = seen.map((s) => `${s.atMs}ms ${s.progress.split(" · ")[0]} points=${s.lossPoints}`).join("\n");

      const whileTraining = seen.filter((s) => s.progress.startsWith("training:") && s.plots === 1);
      const pointCounts = [...new Set(whileTraining.map((s) => s.lossPoints))];
      t.diagnostic(`loss points seen while training: ${pointCounts.join(", ")}; figure updates rendered: ${final.plotsInserted}; cell took ${(final.atMs / 1000).toFixed(1)} s`);
      assert.ok(pointCounts.length >= 2, `the plot gains points while training: loss point counts seen ${JSON.stringify(pointCounts)}\n${timeline}`);
      assert.ok(pointCounts.every((count, i) => i === 0 || count > pointCounts[i - 1]!), `point counts only grow: ${JSON.stringify(pointCounts)}`);
      assert.ok(midShot, `a moment part-way through the run was seen\n${timeline}`);

      assert.equal(final.result, String(totalSteps));
      assert.match(final.progress, new RegExp(`^done: step ${totalSteps}/${totalSteps} · epoch ${epochs}/${epochs} · loss \\d`), "the progress line ends with done:");
      assert.equal(final.progressLines, 1, "one progress line, updated in place");
      assert.equal(final.plots, 1, "one plot, updated in place");
      assert.equal(final.lastStep, totalSteps, "the plot ends on the final step");
      assert.equal(final.lossPoints, totalSteps);
      assert.equal(final.staticSvgs, 0, "the static SVG was replaced by the plotly.js plot");
      assert.deepEqual(final.outputs.filter((type) => type !== "stream"), ["display_data", "display_data", "execute_result"], "progress line, figure and the cell's result");

      const plotlyRequests = urls.filter((url) => url.endsWith(`/${nbextensionPlotlyPath}`));
      assert.ok(final.plotsInserted >= 3, `the page rendered ${final.plotsInserted} figure updates`);
      assert.equal(plotlyRequests.length, 1, `plotly.js is fetched once for ${final.plotsInserted} figure updates: ${JSON.stringify(plotlyRequests)}`);
      assert.equal(final.plotlyScripts, 1, "one plotly.js script element in the page");
      assert.deepEqual(urls.filter((url) => !url.startsWith(`${server.origin}/`)), [], "nothing is fetched from outside the notebook server");
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
});
