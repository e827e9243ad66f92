/**
 * Live figures updated over a comm, end to end: Debian's classic notebook server on 127.0.0.1
 * runs a ringbook kernel; Debian's chromium (playwright-core) opens a page that talks to it with
 * @jupyterlab/services and loads the *built* labextension through module federation: its plugin
 * opens the `ringbook.plotly` comm on the kernel, its MIME renderer draws a JupyterLab output area.
 * A 2-worker training cell must then grow the plot from deltas on the comm (whole figures only now
 * and then), end on the last step, and cost fewer IOPub bytes than the same cell run after the
 * comm is closed, when every update is a whole figure. The comm comes back after a kernel restart.
 * Screenshots go to test-artifacts/.
 */
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join, normalize } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { startClassicNotebook, type ClassicNotebookServer } from "../helpers/classic-notebook.js";
import { bundleExtensionPage, labextensionDir, requireBuiltLabextension } from "../helpers/extension-page.js";
import { createJupyterEnv } from "../helpers/jupyter-env.js";
import { trainingCell } from "../helpers/notebooks.js";
import { freePorts, makeTempDir, repoRoot } from "../kernel/helpers.js";
import { chromiumLaunchOptions } from "../helpers/chromium.js";

const kernelName = "ringbook-test";
const artifactsDir = join(repoRoot, "test-artifacts");
/** 10 epochs of 28 steps, a hundred or more steps a second: a run of a second or two with several updates. */
const totalSteps = 280;
const trainingSource = trainingCell({ features: 512, hidden: 512, classes: 10, size: 3584, batchSize: 128, epochs: 10, metricsIntervalMs: 100, live: { maxUpdatesPerSecond: 20 } });
/**
 * Without the comm, a whole figure is shown at most once a second (its cost is bounded by a share
 * of wall time), so the run without it is three times longer: enough for a few whole updates
 * however fast the machine trains (a slower machine only gives more).
 */
const wholeFigureSteps = 3 * totalSteps;
const wholeFigureSource = trainingCell({ features: 512, hidden: 512, classes: 10, size: 3584, batchSize: 128, epochs: 30, metricsIntervalMs: 100, live: { maxUpdatesPerSecond: 20 } });

interface PageState {
  executing: boolean;
  lastReply: string;
  plots: number;
  lossX: number[];
  traces: number;
  pointsPerTrace: number[];
  figureUpdates: number;
  figureUpdateBytes: number;
  deltas: number;
  deltaBytes: number;
  result: string;
  text: string;
  /** Milliseconds since the cell was sent, as the page measured at this look. */
  sinceExecuteMs: number;
  /** The drawn loss trace's lengths as the page's DOM changed, each at ms since the cell was sent. */
  drawnLengths: string;
}

/** Serves the page and the built labextension on 127.0.0.1. */
async function servePage(port: number, script: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    if (path === "/") {
      response.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html><html><head><meta charset="utf-8"><title>ringbook figure streams</title></head>
<body><div id="output" style="width: 900px"></div><script src="/page.js"></script></body></html>`);
    } else if (path === "/page.js") {
      response.writeHead(200, { "content-type": "text/javascript" }).end(script);
    } else if (path.startsWith("/labextension/")) {
      const file = normalize(join(labextensionDir, path.slice("/labextension/".length)));
      if (!file.startsWith(labextensionDir)) {
        response.writeHead(403).end();
        return;
      }
      readFile(file).then(
        (body) => response.writeHead(200, { "content-type": file.endsWith(".json") ? "application/json" : "text/javascript" }).end(body),
        () => response.writeHead(404).end(),
      );
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Calls `window.ringbookKernelPage[method](...args)` in the page (args travel as JSON). */
function call<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(`ringbookKernelPage.${method}(...${JSON.stringify(args)})`) as Promise<T>;
}

/** Runs the training cell and polls the page until the cell is done; returns every state seen. */
async function trainAndWatch(page: Page, source: string, steps: number, shotName: string): Promise<PageState[]> {
  await call(page, "execute", source);
  const seen: PageState[] = [];
  const startedAt = Date.now();
  let shot = false;
  for (;;) {
    const state = await call<PageState>(page, "inspect");
    seen.push(state);
    if (!shot && state.executing && state.lossX.length >= steps / 3) {
      await page.locator("#output").screenshot({ path: join(artifactsDir, `${shotName}-mid.png`) });
      shot = true;
    }
    if (!state.executing) break;
    assert.ok(Date.now() - startedAt < 180_000, `the cell did not finish within 180 s: ${JSON.stringify({ ...state, text: state.text.slice(0, 300) })}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await page.locator("#output").screenshot({ path: join(artifactsDir, `${shotName}-done.png`) });
  return seen;
}

describe("JupyterLab: live figures from ringbook's kernel over the figure stream comm", () => {
  let jupyter: Awaited<ReturnType<typeof createJupyterEnv>>;
  let server: ClassicNotebookServer;
  let pageServer: Awaited<ReturnType<typeof servePage>>;
  let browser: Browser;
  let removeTemp: () => Promise<void>;

  before(async () => {
    await requireBuiltLabextension();
    const temp = await makeTempDir("figure-streams-page");
    removeTemp = temp.remove;
    const [pagePort] = await freePorts(1);
    pageServer = await servePage(pagePort!, await bundleExtensionPage("kernel-page.ts", join(temp.path, "page.js")));
    jupyter = await createJupyterEnv({ kernelName });
    const notebookDir = join(jupyter.dir, "notebooks");
    await mkdir(notebookDir);
    await mkdir(artifactsDir, { recursive: true });
    // The page is served from another origin than the server, so the server must allow it.
    server = await startClassicNotebook({ env: jupyter.env, notebookDir, ownedPath: jupyter.dir, extraArgs: [`--NotebookApp.allow_origin=${pageServer.origin}`] });
    browser = await chromium.launch({
      ...chromiumLaunchOptions,
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await pageServer?.close();
    await jupyter?.close();
    await removeTemp?.();
  });

  test("a training cell grows its plot from deltas, ends on the last step, and sends fewer bytes than whole-figure updates; the comm survives a restart", { timeout: 300_000 }, async (t) => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    const errors: string[] = [];
    const consoleProblems: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if ((message.type() === "warning" || message.type() === "error") && message.text().includes("ringbook-plotly")) consoleProblems.push(message.text());
    });
    try {
      await page.goto(`${pageServer.origin}/`);
      const setup = await call<{ mimeExtensions: string; plugins: string; implementation: string }>(page, "setup", "/labextension", { origin: server.origin, token: server.token }, kernelName);
      assert.deepEqual(setup, { mimeExtensions: "ringbook-plotly:renderer", plugins: "ringbook-plotly:figure-streams", implementation: "ringbook" });
      await page.waitForFunction("ringbookKernelPage.figureStreamComms().then((n) => n === 1)", undefined, { timeout: 20_000, polling: 200 });

      // plotly.js is fetched and first drawn with the page's first plot: on a loaded machine that
      // took ~10 s (the first draw 9.7 s after the cell was sent, beside 10 busy loops), the whole
      // of the training below, whose point is what the page draws while it runs.
      await call(page, "execute", "display.plotly({ data: [{ y: [1, 3, 2] }] })");
      await page.waitForFunction("ringbookKernelPage.inspect().plots === 1 && !ringbookKernelPage.inspect().executing", undefined, { timeout: 120_000, polling: 200 });

      // With the comm: deltas while training, whole figures only now and then.
      const trainingStarted = Date.now();
      const live = await trainAndWatch(page, trainingSource, totalSteps, "labextension-figure-stream");
      const trainingSeconds = (Date.now() - trainingStarted) / 1000;
      const final = live.at(-1)!;
      assert.equal(final.lastReply, "ok", final.text.slice(0, 2000));
      assert.match(final.result, new RegExp(`(^|\\D)${totalSteps}$`), "the cell's result is the step count");
      assert.equal(final.plots, 1, "one plot, updated in place");
      assert.equal(final.lossX.at(-1), totalSteps, "the plot ends on the last step");
      assert.deepEqual(final.lossX, Array.from({ length: totalSteps }, (_, i) => i + 1), "every step once, in order");
      const whileTraining = live.filter((state) => state.executing && state.plots === 1);
      const counts = [...new Set(whileTraining.map((state) => state.lossX.length))];
      // Says, when it fails, whether the deltas reached the page and were not drawn, or never came.
      const most = (field: "deltas" | "figureUpdates"): number => Math.max(0, ...whileTraining.map((state) => state[field]));
      assert.ok(
        counts.length >= 3,
        `the plot gained points while training: ${JSON.stringify(counts)} (${whileTraining.length} looks while training; by then the page had received ${most("deltas")} deltas and ${most("figureUpdates")} whole figures, at the end ${final.deltas} and ${final.figureUpdates}; training took ${trainingSeconds.toFixed(1)} s; looks at ${whileTraining.map((state) => state.sinceExecuteMs).join(", ")} ms; drawn loss lengths at ms: ${final.drawnLengths})`,
      );
      for (const state of whileTraining) {
        assert.ok(state.lossX.every((x, i) => x === i + 1), `while training, the drawn steps are 1..n without gaps or repeats: ${JSON.stringify(state.lossX.slice(0, 5))}...${JSON.stringify(state.lossX.slice(-5))}`);
        assert.ok(state.pointsPerTrace.every((points) => points === state.lossX.length), `every trace grew alike: ${JSON.stringify(state.pointsPerTrace)}`);
      }
      assert.ok(final.deltas >= 3, `${final.deltas} deltas arrived on the comm`);
      // The empty figure shown when train() is called, the first one with traces (deltas append to
      // it), the final one, and at most one more every 10 s.
      const allowedWhole = 3 + Math.ceil(trainingSeconds / 10);
      assert.ok(final.figureUpdates <= allowedWhole, `${final.figureUpdates} whole-figure updates in ${trainingSeconds.toFixed(1)} s (at most ${allowedWhole}: the starting, first and final figures, plus one every 10 s)`);

      // The comm comes back after a restart (a restart forgets comms on both sides).
      await call(page, "restart");
      await page.waitForFunction("ringbookKernelPage.figureStreamComms().then((n) => n === 1)", undefined, { timeout: 30_000, polling: 200 });

      // Without the comm: every update is a whole figure.
      await call(page, "closePanel");
      await page.waitForFunction("ringbookKernelPage.figureStreamComms().then((n) => n === 0)", undefined, { timeout: 20_000, polling: 200 });
      const whole = await trainAndWatch(page, wholeFigureSource, wholeFigureSteps, "labextension-whole-figures");
      const wholeFinal = whole.at(-1)!;
      assert.equal(wholeFinal.lastReply, "ok", wholeFinal.text.slice(0, 2000));
      assert.equal(wholeFinal.lossX.at(-1), wholeFigureSteps);
      assert.equal(wholeFinal.deltas, 0, "no deltas once the comm is closed");

      const liveBytes = final.figureUpdateBytes + final.deltaBytes;
      const liveUpdates = final.figureUpdates + final.deltas;
      const perUpdate = (bytes: number, updates: number): string => `${(bytes / Math.max(1, updates) / 1024).toFixed(1)} KiB per update`;
      t.diagnostic(
        `with the comm: ${final.deltas} deltas (${(final.deltaBytes / 1024).toFixed(1)} KiB) + ${final.figureUpdates} whole updates (${(final.figureUpdateBytes / 1024).toFixed(1)} KiB), ${perUpdate(liveBytes, liveUpdates)}; ` +
          `without: ${wholeFinal.figureUpdates} whole updates (${(wholeFinal.figureUpdateBytes / 1024).toFixed(1)} KiB), ${perUpdate(wholeFinal.figureUpdateBytes, wholeFinal.figureUpdates)}`,
      );
      assert.ok(wholeFinal.figureUpdates >= 3, `${wholeFinal.figureUpdates} whole-figure updates without the comm`);
      assert.ok(liveBytes / liveUpdates < (wholeFinal.figureUpdateBytes / wholeFinal.figureUpdates) / 3, "an update over the comm is a fraction of a whole figure");
      assert.deepEqual(errors, []);
      assert.deepEqual(consoleProblems, []);
    } finally {
      await call(page, "shutdown").catch(() => undefined);
      await page.close();
    }
  });
});
