/**
 * ringbook's Plotly outputs in a real browser (Debian's chromium through playwright-core), served
 * from 127.0.0.1 with nothing from the internet:
 * - in JupyterLab: the built labextension (extensions/ringbook-plotly/labextension), loaded
 *   through its module federation container into a JupyterLab OutputArea, draws a training figure
 *   bundle as the kernel makes it, and an update of the same output redraws the same plot element;
 * - in the classic notebook: the bundle's `text/html` replaces its static SVG by a plotly.js plot
 *   when the server has the nbextension copy of plotly.js, and keeps the SVG when it has not.
 * Screenshots go to test-artifacts/.
 */
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { extname, join, normalize } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { nbextensionPlotlyPath, plotlyBundle } from "../../kernel/display/plotly-bundle.js";
import { StepAggregator } from "../../lib/metrics/step-summary.js";
import { TrainingHistory } from "../../lib/metrics/training-history.js";
import { trainingFigure } from "../../lib/plots/training-figure.js";
import type { StepRecord } from "../../lib/metrics/step-record.js";
import { bundleExtensionPage, labextensionDir, requireBuiltLabextension } from "../helpers/extension-page.js";
import { makeTempDir, repoRoot } from "../kernel/helpers.js";
import { chromiumLaunchOptions } from "../helpers/chromium.js";
import { toStep } from "../../lib/ids.js";

const artifactsDir = join(repoRoot, "test-artifacts");
const plotlyMimeType = "application/vnd.plotly.v1+json";
const waitMs = 20_000;

/** The figure bundle the live training view shows after `steps` steps of a 2-rank run. */
function trainingBundle(steps: number): { bundle: Record<string, unknown>; traces: number } {
  const history = new TrainingHistory(2);
  const aggregator = new StepAggregator(2);
  for (let step = 1; step <= steps; step++) {
    for (const rank of [0, 1]) {
      const loss = 2 * Math.exp(-step / 80) + 0.05 * Math.sin(step);
      const stepMs = 11 + rank;
      const record: StepRecord = {
        rank, step: toStep(step), epoch: Math.floor((step - 1) / 100), stepInEpoch: (step - 1) % 100, stepsInEpoch: 100, loss, localLoss: loss,
        samples: 64, globalSamples: 128, dataMs: 0.5, computeMs: 8 + rank, communicationMs: 1.5, applyMs: 0.7, stepMs, endedAtMs: step * 12, samplesPerSecond: 64000 / stepMs,
      };
      const summary = aggregator.add(record);
      if (summary) history.add(summary);
    }
  }
  const figure = trainingFigure(history, { maxPoints: 300, title: "training" });
  return { bundle: plotlyBundle({ data: figure.data, layout: { ...figure.layout } }, { text: `step ${steps}` }), traces: figure.data.length };
}

const contentTypes: Record<string, string> = { ".js": "text/javascript", ".json": "application/json", ".html": "text/html", ".txt": "text/plain" };

interface Served {
  url: string;
  /** Paths the browser asked for, with the status served. */
  requests: Array<{ path: string; status: number }>;
  /** Registers a classic-notebook page: the `text/html` output in a body with the server's base URL. */
  classicPage(name: string, baseUrl: string, html: string): string;
  close(): Promise<void>;
}

async function serve(pageScript: string): Promise<Served> {
  const plotlyJs = createRequire(join(repoRoot, "package.json")).resolve("plotly.js-dist");
  const classicPages = new Map<string, string>();
  const requests: Served["requests"] = [];
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    const send = (status: number, body: string | Buffer, type = "text/plain") => {
      requests.push({ path, status });
      response.writeHead(status, { "content-type": type }).end(body);
    };
    const sendFile = (file: string) =>
      readFile(file).then(
        (body) => send(200, body, contentTypes[extname(file)] ?? "application/octet-stream"),
        () => send(404, "not found"),
      );
    if (path === "/") {
      send(200, `<!doctype html><html><head><meta charset="utf-8"><title>ringbook-plotly</title></head>
<body><div id="output" style="width: 900px"></div><script src="/page.js"></script></body></html>`, "text/html");
    } else if (path === "/page.js") {
      send(200, pageScript, "text/javascript");
    } else if (path.startsWith("/labextension/")) {
      const file = normalize(join(labextensionDir, path.slice("/labextension/".length)));
      if (!file.startsWith(labextensionDir)) send(403, "forbidden");
      else void sendFile(file);
    } else if (path === `/${nbextensionPlotlyPath}`) {
      void sendFile(plotlyJs);
    } else if (classicPages.has(path)) {
      send(200, classicPages.get(path)!, "text/html");
    } else {
      send(404, "not found");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error(`unexpected server address ${String(address)}`);
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    classicPage(name, baseUrl, html) {
      const path = `/classic/${name}`;
      classicPages.set(path, `<!doctype html><html><head><meta charset="utf-8"><title>${name}</title></head>
<body data-base-url="${baseUrl}"><div style="width: 900px">${html}</div></body></html>`);
      return path;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}


let browser: Browser;
let served: Served;
let removeTemp: () => Promise<void>;

before(async () => {
  await requireBuiltLabextension();
  const temp = await makeTempDir("labextension-page");
  removeTemp = temp.remove;
  served = await serve(await bundleExtensionPage("page.ts", join(temp.path, "page.js")));
  await mkdir(artifactsDir, { recursive: true });
  browser = await chromium.launch({
    ...chromiumLaunchOptions,
  });
});

after(async () => {
  await browser?.close();
  await served?.close();
  await removeTemp?.();
});

/** A fresh page that records errors and every URL it asks for. */
async function openPage(): Promise<{ page: Page; errors: string[]; urls: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  const errors: string[] = [];
  const urls: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("request", (request) => urls.push(request.url()));
  return { page, errors, urls };
}

interface Drawn {
  outputs: number;
  plots: number;
  staticSvgs: number;
  traces: number;
  points: number[];
  lastX: unknown;
  draws: number;
  samePlotElement: boolean;
  rendererClass: string;
  rendererIsHostWidget: boolean;
  plotWidthPx: number;
}

/** Calls `window.ringbookPage[method](...args)` in the page (args travel as JSON). */
function call<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(`ringbookPage.${method}(...${JSON.stringify(args)})`) as Promise<T>;
}

describe("JupyterLab: the built labextension", () => {
  test("renders a training figure bundle, updates the same plot in place with more points, follows the panel width and purges on clear", async () => {
    const { page, errors, urls } = await openPage();
    try {
      await page.goto(`${served.url}/`);
      assert.equal(await call(page, "loadLabextension", "/labextension"), "ringbook-plotly:renderer");

      const first = trainingBundle(60);
      assert.deepEqual(await call(page, "preferred", first.bundle), { trusted: plotlyMimeType, untrusted: plotlyMimeType }, "wins over text/html and image/svg+xml, trusted or not");
      await call(page, "display", first.bundle);
      await page.waitForFunction("ringbookPage.inspect().traces > 0", undefined, { timeout: waitMs });
      const drawn = await call<Drawn>(page, "inspect");
      assert.equal(drawn.outputs, 1);
      assert.equal(drawn.plots, 1);
      assert.equal(drawn.staticSvgs, 0, "the html fallback is not what is shown");
      assert.equal(drawn.traces, first.traces);
      assert.equal(drawn.points[0], 60);
      assert.match(drawn.rendererClass, /\bringbook-plotly\b/);
      assert.ok(drawn.rendererIsHostWidget, "the extension's Widget is the page's @lumino/widgets (shared singleton, not bundled)");
      assert.ok(Math.abs(drawn.plotWidthPx - 900) < 20, `plot width ${drawn.plotWidthPx} px in a 900 px panel`);
      await page.locator("#output").screenshot({ path: join(artifactsDir, "labextension-plotly-initial.png") });

      await call(page, "update", trainingBundle(240).bundle);
      await page.waitForFunction("ringbookPage.inspect().points[0] === 240", undefined, { timeout: waitMs });
      const updated = await call<Drawn>(page, "inspect");
      assert.deepEqual({ outputs: updated.outputs, plots: updated.plots, traces: updated.traces }, { outputs: 1, plots: 1, traces: first.traces });
      assert.ok(updated.samePlotElement, "the update redrew the same plot element (Plotly.react), not a new one");
      assert.ok(updated.draws >= 1, "plotly reported the redraw");
      await page.locator("#output").screenshot({ path: join(artifactsDir, "labextension-plotly-updated.png") });

      // Updates faster than plotly draws: coalesced into the newest figure, nothing lost at the end.
      const burst = Array.from({ length: 16 }, (_, i) => trainingBundle(250 + 10 * i).bundle);
      await call(page, "updateMany", burst);
      await page.waitForFunction("ringbookPage.inspect().lastX === 400", undefined, { timeout: waitMs });
      const afterBurst = await call<Drawn>(page, "inspect");
      assert.ok(afterBurst.samePlotElement);
      assert.ok(afterBurst.draws - updated.draws < burst.length, `${afterBurst.draws - updated.draws} draws for ${burst.length} updates`);

      await call(page, "setWidth", 500);
      await page.waitForFunction("Math.abs(ringbookPage.inspect().plotWidthPx - 500) < 20", undefined, { timeout: waitMs });
      assert.ok((await call<Drawn>(page, "inspect")).samePlotElement);
      await page.locator("#output").screenshot({ path: join(artifactsDir, "labextension-plotly-resized.png") });

      await page.waitForFunction("ringbookPage.clearAndCheckPurged()", undefined, { timeout: waitMs });

      assert.deepEqual(errors, []);
      assert.deepEqual(urls.filter((url) => !url.startsWith(`${served.url}/`)), [], "nothing but the test server was asked");
      assert.ok(urls.some((url) => /\/labextension\/static\/remoteEntry\.\w+\.js$/.test(url)));
    } finally {
      await page.close();
    }
  });
});

/** A delta of `stream`'s `revision` adding the point (x, 0.5) to each of `traces` traces. */
function delta(stream: string, revision: number, seq: number, x: number, traces: number): Record<string, unknown> {
  return { stream, revision, seq, traces: Array.from({ length: traces }, () => ({ x: [x], y: [0.5] })) };
}

describe("JupyterLab: live figure deltas", () => {
  test("deltas that arrive before their figure is drawn are applied when it is, in order, also by a renderer made again for the same output", async () => {
    const { page, errors } = await openPage();
    try {
      await page.goto(`${served.url}/`);
      await call(page, "loadLabextension", "/labextension");
      const stream = "stream-drawn-late";
      /** Waits until the plot's first trace ends at x = `last`, holding `last` points. */
      const drawnUpTo = async (last: number): Promise<void> => {
        await page.waitForFunction(`ringbookPage.inspect().plots === 1 && ringbookPage.inspect().lastX === ${last}`, undefined, { timeout: waitMs });
        assert.equal((await call<Drawn>(page, "inspect")).points[0], last);
      };
      const first = trainingBundle(60);
      // Deltas that reached the page before a renderer drew the figure they extend are not lost.
      await call(page, "deliver", delta(stream, 1, 1, 61, first.traces));
      await call(page, "deliver", delta(stream, 1, 2, 62, first.traces));
      await call(page, "displayLive", first.bundle, { stream, revision: 1 });
      await drawnUpTo(62);
      await call(page, "deliver", delta(stream, 1, 3, 63, first.traces));
      await drawnUpTo(63);

      // A delta of the next revision, before the whole figure of that revision is shown.
      const second = trainingBundle(120);
      await call(page, "deliver", delta(stream, 2, 1, 121, second.traces));
      await call(page, "updateLive", second.bundle, { stream, revision: 2 });
      await drawnUpTo(121);
      // A late delta of the older revision is not kept in place of the newer one's (the new
      // renderer below would not catch up otherwise).
      await call(page, "deliver", delta(stream, 1, 4, 64, first.traces));

      // A new renderer for the same output (JupyterLab's "Create New View for Cell Output" in the
      // middle of a run) catches up on the revision's deltas too.
      await page.waitForFunction("ringbookPage.clearAndCheckPurged()", undefined, { timeout: waitMs });
      await call(page, "displayLive", second.bundle, { stream, revision: 2 });
      await drawnUpTo(121);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
});

describe("classic notebook: the text/html fallback", () => {
  test("draws with the nbextension copy of plotly.js, replacing the static SVG", async () => {
    const { page, errors, urls } = await openPage();
    try {
      const { bundle, traces } = trainingBundle(120);
      await page.goto(`${served.url}${served.classicPage("with-plotly", "/", String(bundle["text/html"]))}`);
      await page.waitForFunction("document.querySelector('.ringbook-plot.js-plotly-plot') !== null", undefined, { timeout: waitMs });
      const state = await page.evaluate(`(() => {
        const plot = document.querySelector(".ringbook-plot");
        return { staticSvgs: plot.querySelectorAll(":scope > svg").length, traces: plot.data.length, mainSvgs: plot.querySelectorAll(".main-svg").length };
      })()`);
      assert.deepEqual(state, { staticSvgs: 0, traces, mainSvgs: 3 });
      assert.ok(served.requests.some((request) => request.path === `/${nbextensionPlotlyPath}` && request.status === 200));
      assert.deepEqual(errors, []);
      assert.deepEqual(urls.filter((url) => !url.startsWith(`${served.url}/`)), []);
      await page.screenshot({ path: join(artifactsDir, "classic-fallback-plotly.png"), fullPage: true });
    } finally {
      await page.close();
    }
  });

  test("keeps the static SVG visible when the server has no plotly.js", async () => {
    const { page, errors } = await openPage();
    try {
      const { bundle } = trainingBundle(120);
      await page.goto(`${served.url}${served.classicPage("without-plotly", "/offline/", String(bundle["text/html"]))}`);
      assert.equal(await page.evaluate("window.__ringbookPlotly.then(() => 'loaded', () => 'failed')"), "failed");
      assert.ok(served.requests.some((request) => request.path === `/offline/${nbextensionPlotlyPath}` && request.status === 404));
      assert.equal(await page.locator(".ringbook-plot.js-plotly-plot").count(), 0);
      const svg = page.locator(".ringbook-plot > svg");
      assert.equal(await svg.count(), 1);
      assert.ok(await svg.isVisible());
      const box = await svg.boundingBox();
      assert.ok(box !== null && box.width > 300 && box.height > 200, `static SVG box ${JSON.stringify(box)}`);
      assert.deepEqual(errors, []);
      await page.screenshot({ path: join(artifactsDir, "classic-fallback-offline-svg.png"), fullPage: true });
    } finally {
      await page.close();
    }
  });
});
