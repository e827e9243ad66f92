/**
 * A training notebook executed and exported by Debian's `jupyter nbconvert --to html --execute`
 * (nbclient keeps the last state of each updated display): the exported page shows the training
 * figure as its static SVG, with no plotly.js to load (the page is a file, offline), in Debian's
 * chromium. Screenshot in test-artifacts/.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { chromium } from "playwright-core";
import { createJupyterEnv } from "../helpers/jupyter-env.js";
import { makeNotebook, trainingCell } from "../helpers/notebooks.js";
import { runProcess } from "../helpers/run-process.js";
import { repoRoot } from "../kernel/helpers.js";
import { chromiumLaunchOptions } from "../helpers/chromium.js";

const artifactsDir = join(repoRoot, "test-artifacts");

/** 3 epochs of 64 steps of a tiny model. */
const totalSteps = 192;
const trainingSource = trainingCell({ features: 16, hidden: 8, classes: 4, size: 512, batchSize: 8, epochs: 3, metricsIntervalMs: 50 });

test("nbconvert --to html --execute of a training notebook shows the final figure as a static SVG, offline", { timeout: 240_000 }, async () => {
  const jupyter = await createJupyterEnv();
  try {
    const input = join(jupyter.dir, "train.ipynb");
    await writeFile(input, makeNotebook([trainingSource]));
    const result = await runProcess("jupyter", ["nbconvert", "--to", "html", "--execute", "--ExecutePreprocessor.timeout=180", "--output", "train.html", input], { env: jupyter.env, cwd: jupyter.dir, timeoutMs: 220_000 });
    assert.equal(result.code, 0, result.stderr);
    const html = await readFile(join(jupyter.dir, "train.html"), "utf8");
    assert.match(html, new RegExp(`done: step ${totalSteps}/${totalSteps} · epoch 3/3 · loss `), "the progress line's final state");
    assert.equal(html.match(/class="ringbook-plot"><svg /g)?.length, 1, "one figure, its final state, with the static drawing");
    assert.doesNotMatch(html, /cdn\.plot\.ly/);

    await mkdir(artifactsDir, { recursive: true });
    const browser = await chromium.launch({
      ...chromiumLaunchOptions,
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const errors: string[] = [];
      const blocked: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      // nbconvert's template asks a CDN for require.js and MathJax: offline here, so refused at once.
      await page.route(/^https?:/, (route) => {
        blocked.push(route.request().url());
        return route.abort();
      });
      await page.goto(pathToFileURL(join(jupyter.dir, "train.html")).href);
      const plot = page.locator(".ringbook-plot");
      await plot.locator(":scope > svg").waitFor({ timeout: 30_000 });
      // The loader script gives up on plotly.js (no window.Plotly, no notebook server): the SVG stays.
      await page.waitForTimeout(1000);
      const state = await page.evaluate(`(() => {
        const plot = document.querySelector(".ringbook-plot");
        const svg = plot.querySelector(":scope > svg");
        const box = svg.getBoundingClientRect();
        return { plotly: document.querySelectorAll(".js-plotly-plot").length, paths: svg.querySelectorAll("path").length, width: Math.round(box.width), height: Math.round(box.height) };
      })()`);
      assert.deepEqual(state, { plotly: 0, paths: 9, width: 760, height: 560 }, "the static drawing: 9 traces at the figure's size");
      await plot.screenshot({ path: join(artifactsDir, "nbconvert-html-static-svg.png") });
      assert.deepEqual(errors, []);
      assert.deepEqual(blocked.filter((url) => /plot/i.test(url)), [], `ringbook's output asks nothing from the internet: ${JSON.stringify(blocked)}`);
    } finally {
      await browser.close();
    }
  } finally {
    await jupyter.close();
  }
});
