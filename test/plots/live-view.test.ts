/**
 * The live training view through the kernel's real display API (a sink on globalThis collects
 * the display messages the kernel would send) and its real figure streams (a comm registry whose
 * events are collected): one display id per part updated in place, a bounded update rate whatever
 * the step rate, the final step always shown, a saved output that stays under its size bound
 * however long the run; and, once a front end has opened the `ringbook.plotly` comm, deltas that
 * rebuild exactly the rows of the run between whole figures.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FigureDelta } from "../../lib/plots/figure-stream.js";
import { LiveTrainingView } from "../../lib/cluster/live-training-view.js";
import { findDisplayHost } from "../../lib/plots/live-display.js";
import { StepAggregator } from "../../lib/metrics/step-summary.js";
import { TrainingHistory } from "../../lib/metrics/training-history.js";
import type { StepRecord } from "../../lib/metrics/step-record.js";
import { kernelDisplayHost } from "../helpers/display-host.js";
import { toStep } from "../../lib/ids.js";

/** The bound stated in the README: the live output of any run, as saved, in bytes. */
const savedOutputBoundBytes = 256 * 1024;

const kernel = kernelDisplayHost();
const { messages, commEvents, comms, host } = kernel;
before(() => kernel.install());
after(() => kernel.uninstall());

function record(rank: number, step: number): StepRecord {
  const loss = 2 * Math.exp(-step / 1000) + 0.05 * Math.sin(step);
  return {
    rank, step: toStep(step), epoch: Math.floor((step - 1) / 500), stepInEpoch: (step - 1) % 500, stepsInEpoch: 500, loss, localLoss: loss,
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
  assert.equal(findDisplayHost(), host);
  assert.equal(host.figureListeners?.(), 0, "no front end listens for figure deltas yet");
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
  const first = figureUpdates[0]!;
  assert.equal(first.update, false, "the figure is shown when the view starts, before any step");
  assert.deepEqual((first.data["application/vnd.plotly.v1+json"] as { data: Array<{ x: number[] }> }).data[0]!.x, [], "empty at first");
  assert.match(String(first.data["image/svg+xml"]), /^<svg /, "with its static image: what is saved if nothing follows");
  assert.match(String(messages[0]!.data["text/plain"]), /^starting: waiting for the first step$/, "the progress line is shown first");
  for (const interim of figureUpdates.slice(1, -1)) {
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

type PlotlyJson = { data: Array<{ name: string; x: number[]; y: Array<number | null> }> };

test("with a front end on the figure stream comm, updates between whole figures are deltas that rebuild the run's rows exactly, and the drawn figure stays bounded", async () => {
  messages.length = 0;
  commEvents.length = 0;
  assert.equal(comms.handleOpen("front-end-1", "ringbook.plotly", { protocol: 1 }, {}), true, "the kernel serves the ringbook.plotly target");
  assert.equal(host.figureListeners?.(), 1);
  try {
    const run = new FakeRun();
    const maxPoints = 300;
    // 20 updates a second: in about 2 s, more deltas than the drawn figure's bound allows.
    const view = new LiveTrainingView(run, findDisplayHost()!, { maxPoints, maxUpdatesPerSecond: 20 });
    // 6,000 steps in about 4 s (1,500 a second): deltas need downsampling and the drawn figure
    // outgrows its bound (about a dozen deltas of at most maxPoints / 4 points), so whole figures
    // come back.
    for (let step = 1; step <= 6000; step++) {
      run.step(step);
      if (step % 25 === 0) await new Promise((resolve) => setTimeout(resolve, 15));
    }
    view.finish("done");

    // Replay what a front end sees, in order: whole figures (with their stream tag) and deltas.
    const figureId = messages.find((message) => message.data["application/vnd.plotly.v1+json"] !== undefined)!.displayId;
    type Shown = { kind: "whole"; figure: PlotlyJson; tag: { stream: string; revision: number } } | { kind: "delta"; delta: FigureDelta };
    const timeline: Shown[] = [];
    // Display messages and comm events interleave in the kernel in the order they were made;
    // here they were collected apart, so merge them by the revision they belong to.
    const wholes = messages.filter((message) => message.displayId === figureId).map((message) => ({
      kind: "whole" as const,
      figure: message.data["application/vnd.plotly.v1+json"] as PlotlyJson,
      tag: (message.metadata["application/vnd.plotly.v1+json"] as { ringbook: { stream: string; revision: number } }).ringbook,
    }));
    const deltas = commEvents.filter((event) => event.kind === "commMsg").map((event) => (event as unknown as { data: FigureDelta }).data);
    for (const whole of wholes) {
      timeline.push(whole);
      for (const delta of deltas.filter((d) => d.revision === whole.tag.revision)) timeline.push({ kind: "delta", delta });
    }
    assert.equal(timeline.length, wholes.length + deltas.length, "every delta extends a whole figure that was shown");
    assert.ok(deltas.length >= 3, `${deltas.length} deltas (updates while training are sent as deltas)`);
    assert.ok(new Set(wholes.map((whole) => whole.tag.stream)).size === 1, "one stream for the run");
    assert.deepEqual(wholes.map((whole) => whole.tag.revision), wholes.map((_, i) => i + 1), "revisions count the whole figures");
    const stats = view.figureStats;
    assert.equal(stats.deltas, deltas.length);
    assert.equal(stats.renders, deltas.length + wholes.length, "every figure update is a delta or a whole figure");

    let drawn: PlotlyJson | undefined;
    let seq = 0;
    let revision = 0;
    let maxDrawnPoints = 0;
    for (const item of timeline) {
      if (item.kind === "whole") {
        drawn = structuredClone(item.figure);
        revision = item.tag.revision;
        seq = 0;
      } else {
        assert.equal(item.delta.revision, revision);
        assert.equal(item.delta.seq, seq + 1, "deltas of a revision are numbered from 1 without gaps");
        seq = item.delta.seq;
        assert.equal(item.delta.traces.length, drawn!.data.length, "a delta has points for every trace");
        item.delta.traces.forEach((points, i) => {
          assert.equal(points.x.length, points.y.length);
          assert.ok(points.x.length <= maxPoints / 4, `a delta holds at most maxPoints/4 points per trace, got ${points.x.length}`);
          // New arrays: the traces of a whole figure share one x array.
          const trace = drawn!.data[i]!;
          trace.x = [...trace.x, ...(points.x as number[])];
          trace.y = [...trace.y, ...points.y];
        });
      }
      const loss = drawn!.data[0]!;
      assert.ok(loss.x.every((x, i) => i === 0 || x > loss.x[i - 1]!), "the drawn steps only increase: no row twice, none out of order");
      maxDrawnPoints = Math.max(maxDrawnPoints, loss.x.length);
    }
    assert.ok(maxDrawnPoints <= 4 * maxPoints, `the drawn figure holds at most 4 x maxPoints per trace (${maxDrawnPoints})`);

    // Deltas carry the run's own numbers: each delta point is the history row of its step.
    const history = run.history.columns;
    for (const delta of deltas) {
      delta.traces[0]!.x.forEach((step, i) => {
        const row = history.step.indexOf(step as number);
        assert.ok(row >= 0);
        assert.equal(delta.traces[0]!.y[i], Number(history.loss[row]!.toPrecision(5)), `loss at step ${step}`);
      });
    }
    // Right after a whole figure, the first delta starts at the next step (no gap while rows are few).
    const firstDelta = deltas.find((delta) => delta.seq === 1 && delta.revision === 1)!;
    assert.deepEqual(wholes[0]!.figure.data[0]!.x, [], "the first whole figure is the empty one the view starts with");
    assert.equal(firstDelta.traces[0]!.x[0], 1, "the first delta starts at the first step");
    assert.equal(wholes.at(-1)!.figure.data[0]!.x.at(-1), 6000, "the final whole figure ends on the last step");
    assert.ok(wholes.length >= 3, `the drawn figure outgrew its bound, so whole figures came back (${wholes.length})`);

    // Bytes on the wire for the figure: deltas against the same updates sent as whole figures.
    const deltaBytes = deltas.reduce((sum, delta) => sum + JSON.stringify(delta).length, 0) / deltas.length;
    const wholeBytes = wholes.reduce((sum, whole) => sum + JSON.stringify(whole.figure).length, 0) / wholes.length;
    assert.ok(deltaBytes * 2 < wholeBytes, `a delta (${deltaBytes.toFixed(0)} B on average) is a fraction of a whole figure (${wholeBytes.toFixed(0)} B)`);
  } finally {
    comms.handleClose("front-end-1", {}, {});
  }
  assert.equal(host.figureListeners?.(), 0, "a closed comm stops the deltas");
});

test("a front end that speaks another figure stream protocol is told why and gets no deltas", () => {
  commEvents.length = 0;
  assert.equal(comms.handleOpen("front-end-2", "ringbook.plotly", { protocol: 99 }, {}), true);
  assert.equal(host.figureListeners?.(), 0);
  const close = commEvents.find((event) => event.kind === "commClose") as { data: { error?: string } } | undefined;
  assert.match(String(close?.data.error), /protocol 1, the front end asked for 99/);
});

test("a run with validation shows val_loss and the accuracy panel live, and in its final figure", async () => {
  messages.length = 0;
  const run = new (class extends FakeRun {
    readonly validations: Array<{ step: number; logs: Record<string, number> }> = [];
    readonly epochs: Array<{ step: number; logs: Record<string, number> }> = [];
  })();
  const view = new LiveTrainingView(run, findDisplayHost()!);
  const figures = () => messages.filter((message) => message.data["application/vnd.plotly.v1+json"] !== undefined);
  const traceOf = (message: (typeof messages)[number], name: string) => (message.data["application/vnd.plotly.v1+json"] as PlotlyJson).data.find((trace) => trace.name === name);
  let drawnLive = false;
  for (let step = 1; step <= 1500; step++) {
    run.step(step);
    if (step % 500 === 0) {
      run.validations.push({ step, logs: { val_loss: 1 / step, val_accuracy: step / 2000 } });
      run.epochs.push({ step, logs: { loss: 2 / step, accuracy: step / 1600 } });
    }
    if (step % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 15));
    // The update trailing the steps draws the new validation pass (a whole figure): wait for it.
    if (step === 1000 && !drawnLive) {
      const deadline = performance.now() + 5000;
      while (!drawnLive && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        drawnLive = figures().some((message) => (traceOf(message, "val_loss")?.x.length ?? 0) >= 1);
      }
    }
  }
  view.finish("done");
  const last = figures().at(-1)!;
  assert.deepEqual(traceOf(last, "val_loss")?.x, [500, 1000, 1500]);
  assert.deepEqual(traceOf(last, "val_accuracy")?.y, [0.25, 0.5, 0.75]);
  assert.deepEqual(traceOf(last, "accuracy (epoch)")?.x, [500, 1000, 1500]);
  assert.ok(drawnLive, "a validation pass is drawn while the run goes on");
});

