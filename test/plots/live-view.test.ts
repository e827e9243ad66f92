/**
 * The live training view through the kernel's real display API (a sink on globalThis collects
 * the display messages the kernel would send): one display id per part updated in place, a
 * bounded update rate whatever the step rate, the final step always shown, and a saved output
 * that stays under its size bound however long the run.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { display, displayHostSymbol } from "../../kernel/display/index.js";
import { displaySinkSymbol, type DisplayMessage } from "../../kernel/display/sink.js";
import { findDisplayHost, LiveTrainingView } from "../../lib/cluster/live-training-view.js";
import { StepAggregator } from "../../lib/metrics/step-summary.js";
import { TrainingHistory } from "../../lib/metrics/training-history.js";
import type { StepRecord } from "../../lib/training/rank-loop.js";

/** The bound stated in the README: the live output of any run, as saved, in bytes. */
const savedOutputBoundBytes = 256 * 1024;

const messages: DisplayMessage[] = [];
before(() => {
  (globalThis as Record<symbol, unknown>)[displaySinkSymbol] = { display: (message: DisplayMessage) => messages.push(message), clearOutput: () => undefined };
  (globalThis as Record<symbol, unknown>)[displayHostSymbol] = display;
});
after(() => {
  delete (globalThis as Record<symbol, unknown>)[displaySinkSymbol];
  delete (globalThis as Record<symbol, unknown>)[displayHostSymbol];
});

function record(rank: number, step: number): StepRecord {
  const loss = 2 * Math.exp(-step / 1000) + 0.05 * Math.sin(step);
  return {
    rank, step, epoch: Math.floor((step - 1) / 500), stepInEpoch: (step - 1) % 500, stepsInEpoch: 500, loss, localLoss: loss,
    samples: 64, globalSamples: 128, dataMs: 0.5, computeMs: 8 + rank, communicationMs: 1.5, applyMs: 0.7, stepMs: 11 + rank, endedAtMs: step * 12, samplesPerSecond: 64000 / (11 + rank),
  };
}

/** A run that the view can watch, fed step by step by the test. */
class FakeRun {
  readonly history = new TrainingHistory(2);
  readonly schedule = { epochs: 10 };
  readonly totalSteps = 5000;
  readonly #aggregator = new StepAggregator(2);
  readonly #listeners = new Set<() => void>();
  onStep(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  step(step: number): void {
    for (const rank of [0, 1]) {
      const summary = this.#aggregator.add(record(rank, step));
      if (summary) {
        this.history.add(summary);
        for (const listener of this.#listeners) listener();
      }
    }
  }
}

test("the kernel publishes its display API for libraries", () => {
  assert.equal(findDisplayHost(), display);
});

test("a long fast run updates two displays in place at most 4 times a second (the figure at least once a second) and ends on its last step, within the size bound", async () => {
  messages.length = 0;
  const run = new FakeRun();
  const view = new LiveTrainingView(run, findDisplayHost()!);
  const startedAt = performance.now();
  // 5,000 steps in about 1.5 s: over 3,000 steps a second.
  for (let step = 1; step <= 5000; step++) {
    run.step(step);
    if (step % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 15));
  }
  const elapsedS = (performance.now() - startedAt) / 1000;
  view.finish("done");

  const ids = new Set(messages.map((message) => message.displayId));
  assert.equal(ids.size, 2, "one display id for the progress line, one for the figure");
  assert.equal(messages.filter((message) => !message.update).length, 2, "each shown once, then only updated");
  const progressUpdates = messages.filter((message) => message.data["text/plain"] !== undefined && message.data["application/vnd.plotly.v1+json"] === undefined);
  const rate = progressUpdates.length / elapsedS;
  assert.ok(progressUpdates.length <= Math.ceil(elapsedS * 4) + 2, `${progressUpdates.length} progress updates in ${elapsedS.toFixed(2)} s (${rate.toFixed(1)}/s)`);

  const figureUpdates = messages.filter((message) => message.data["application/vnd.plotly.v1+json"] !== undefined);
  assert.ok(figureUpdates.length >= 3, `the figure is live: ${figureUpdates.length} updates (at least one a second while steps arrive, and the final one)`);
  assert.ok(figureUpdates.length <= progressUpdates.length, `${figureUpdates.length} figure updates, ${progressUpdates.length} progress updates: the figure never updates more often`);
  for (const interim of figureUpdates.slice(0, -1)) {
    assert.equal(interim.data["image/svg+xml"], undefined, "interim figure updates leave out the image only saved notebooks use");
    assert.match(String(interim.data["text/html"]), /class="ringbook-plot"><svg /, "but their HTML still holds the static drawing");
  }

  const last = messages.at(-1)!;
  const figure = last.data["application/vnd.plotly.v1+json"] as { data: Array<{ x: number[] }> };
  assert.equal(figure.data[0]!.x.at(-1), 5000, "the final step is drawn");
  assert.match(String(last.data["text/plain"]), /^done: step 5000\/5000 · epoch 10\/10 · loss /);
  assert.match(String(last.data["text/plain"]), /ms per step: data 0\.5, compute 8\.5, communication 1\.5, apply 0\.7/);
  assert.match(String(last.data["image/svg+xml"]), /^<svg /, "a static image for viewers that run no script");
  assert.match(String(last.data["text/html"]), /<div id="ringbook-plot-[^"]+" class="ringbook-plot"><svg /, "the HTML shows the static drawing until plotly.js loads");
  assert.doesNotMatch(String(last.data["text/html"]), /cdn\.plot\.ly|<script[^>]*\ssrc=/, "no internet needed: plotly.js comes from the page or the server");

  // What a front end saves: the last state of each display.
  const saved = [...ids].map((id) => messages.filter((message) => message.displayId === id).at(-1)!);
  const bytes = Buffer.byteLength(JSON.stringify(saved.map((message) => message.data)));
  assert.ok(bytes < savedOutputBoundBytes, `saved output is ${bytes} bytes, bound ${savedOutputBoundBytes}`);

  await new Promise((resolve) => setTimeout(resolve, 300));
  const countAfterFinish = messages.length;
  run.step(5001);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(messages.length, countAfterFinish, "nothing is shown after finish");
});
