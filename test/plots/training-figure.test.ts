import { test } from "node:test";
import assert from "node:assert/strict";
import { StepAggregator } from "../../lib/metrics/step-summary.js";
import { TrainingHistory } from "../../lib/metrics/training-history.js";
import { smoothExponential, smoothExponentialAt } from "../../lib/metrics/smoothing.js";
import { downsampleIndices } from "../../lib/metrics/downsample.js";
import { trainingFigure } from "../../lib/plots/training-figure.js";
import { figureToSvg } from "../../lib/plots/svg.js";
import { progressText } from "../../lib/plots/progress-text.js";
import { linePlot } from "../../lib/plots/line-plot.js";
import type { StepRecord } from "../../lib/metrics/step-record.js";
import { toStep } from "../../lib/ids.js";

function record(rank: number, step: number, loss: number): StepRecord {
  return {
    rank, step: toStep(step), epoch: Math.floor((step - 1) / 100), stepInEpoch: (step - 1) % 100, stepsInEpoch: 100, loss, localLoss: loss,
    samples: 32, globalSamples: 64, dataMs: 1, computeMs: 10 + rank, communicationMs: 2, applyMs: 1, stepMs: 14 + rank, endedAtMs: step * 15, samplesPerSecond: 32000 / (14 + rank),
  };
}

/** A run of `steps` steps on 2 ranks, with records arriving out of order. */
export function syntheticHistory(steps: number): TrainingHistory {
  const aggregator = new StepAggregator(2);
  const history = new TrainingHistory(2);
  for (let step = 1; step <= steps; step++) {
    const loss = 2 * Math.exp(-step / (steps / 4)) + 0.05 * Math.sin(step);
    for (const rank of step % 2 === 0 ? [1, 0] : [0, 1]) {
      const summary = aggregator.add(record(rank, step, loss));
      if (summary) history.add(summary, step * 15);
    }
  }
  return history;
}

test("step records from all ranks join into one summary per step, slowest rank sets the pace", () => {
  const aggregator = new StepAggregator(2);
  assert.equal(aggregator.add(record(1, 1, 0.5)), undefined);
  assert.deepEqual(aggregator.incompleteSteps, [1]);
  const summary = aggregator.add(record(0, 1, 0.5));
  assert.ok(summary);
  assert.equal(summary.stepMs, 15);
  assert.equal(Math.round(summary.samplesPerSecond), Math.round(64000 / 15));
  assert.equal(summary.computeMs, 10.5);
  assert.deepEqual(summary.ranks.map((r) => r.rank), [0, 1]);
  assert.deepEqual(aggregator.incompleteSteps, []);
});

test("smoothing is bias-corrected and downsampling keeps ends and spikes", () => {
  assert.deepEqual(smoothExponential([4, 4, 4], 0.9).map((v) => Number(v.toFixed(6))), [4, 4, 4]);
  const ys = Array.from({ length: 10_000 }, (_, i) => (i === 5_000 ? 100 : 1));
  const xs = ys.map((_, i) => i);
  const keep = downsampleIndices(xs, ys, 200);
  assert.equal(keep.length, 200);
  assert.equal(keep[0], 0);
  assert.equal(keep.at(-1), 9_999);
  assert.ok(keep.includes(5_000), "the spike survives");
});

test("smoothing read at a few indices equals full smoothing there, without a pass per point", () => {
  const values = Array.from({ length: 1_000 }, (_, i) => (i % 97 === 13 ? Number.NaN : Math.sin(i / 50) + 0.3 * Math.cos(i)));
  const full = smoothExponential(values, 0.9);
  const indices = [0, 1, 13, 14, 500, 998, 999];
  assert.deepEqual(smoothExponentialAt(values, 0.9, indices), indices.map((i) => full[i]));
  assert.deepEqual(smoothExponentialAt(values, 0.9, []), []);
  assert.throws(() => smoothExponentialAt(values, 0.9, [5, 3]), /ascending/);
});

test("the training figure of a 20,000-step run stays under 64 KB and has every panel", () => {
  const history = syntheticHistory(20_000);
  const figure = trainingFigure(history);
  const bytes = JSON.stringify(figure).length;
  assert.ok(bytes < 64 * 1024, `figure JSON is ${bytes} bytes`);
  const names = figure.data.map((t) => t.name);
  for (const name of ["loss", "loss (smoothed)", "samples/s (total)", "samples/s rank 0", "samples/s rank 1", "data ms", "compute ms", "communication ms", "apply ms"]) {
    assert.ok(names.includes(name), `trace ${name}`);
  }
  assert.equal(figure.data[0]!.x.at(-1), 20_000, "the last step is drawn");
  const svg = figureToSvg(figure);
  assert.ok(svg.startsWith("<svg") && svg.endsWith("</svg>"));
  assert.ok(svg.length < 64 * 1024, `svg is ${svg.length} bytes`);
  assert.match(progressText(history, { totalSteps: 30_000, epochs: 300 }), /^training: step 20000\/30000 · epoch 200\/300 · loss 0\.\d{4} · [\d,]+ samples\/s · ETA \d+:\d\d$/);
});

test("a plain Plotly figure from cell code (unnamed trace, string title) still gets its static SVG", () => {
  const plain = { data: [{ type: "scatter", mode: "lines", x: [0, 1, 2], y: [1, 3, 2] }], layout: { title: "plain <title>", yaxis: { title: "y" } } };
  const svg = figureToSvg(plain as unknown as Parameters<typeof figureToSvg>[0]);
  assert.ok(svg.startsWith("<svg") && svg.endsWith("</svg>"));
  assert.match(svg, /plain &lt;title&gt;/);
  assert.match(svg, /<path d="M/, "the line is drawn");
});

test("line plots check their series and thin long ones", () => {
  assert.throws(() => linePlot([{ name: "bad", x: [1, 2], y: [1] }]), /2 x values and 1 y values/);
  const figure = linePlot([{ name: "a", y: Array.from({ length: 5000 }, (_, i) => i) }], { maxPoints: 100 });
  assert.equal(figure.data[0]!.y.length, 100);
});

test("validation curves join the training curves livelossplot-style: val_loss in the loss panel, an accuracy panel with accuracy and val_accuracy", () => {
  const history = syntheticHistory(200);
  const evaluation = {
    validations: [{ step: 100, logs: { val_loss: 0.9, val_accuracy: 0.61 } }, { step: 200, logs: { val_loss: 0.5, val_accuracy: 0.8 } }],
    epochs: [{ step: 100, logs: { loss: 1, accuracy: 0.55 } }, { step: 200, logs: { loss: 0.6, accuracy: 0.75 } }],
  };
  const figure = trainingFigure(history, { maxPoints: 50, evaluation });
  const byName = new Map(figure.data.map((trace) => [trace.name, trace]));
  assert.deepEqual([byName.get("val_loss")?.x, byName.get("val_loss")?.y, byName.get("val_loss")?.yaxis], [[100, 200], [0.9, 0.5], "y"]);
  assert.deepEqual([byName.get("accuracy (epoch)")?.y, byName.get("val_accuracy")?.y, byName.get("val_accuracy")?.yaxis], [[0.55, 0.75], [0.61, 0.8], "y4"]);
  assert.equal((figure.layout as { yaxis4?: { title: { text: string } } }).yaxis4?.title.text, "accuracy");
  // A delta keeps the traces (by index) and sends no validation points; without validation the figure is as before.
  const delta = trainingFigure(history, { rows: [198, 199], evaluation });
  assert.equal(delta.data.length, figure.data.length);
  assert.deepEqual(delta.data.at(-1)?.x, []);
  const plain = trainingFigure(history, { maxPoints: 50 });
  assert.equal(plain.data.length, figure.data.length - 3);
  assert.equal((plain.layout as { yaxis4?: unknown }).yaxis4, undefined);
  // Validation without accuracy: val_loss only, no accuracy panel.
  const lossOnly = trainingFigure(history, { maxPoints: 50, evaluation: { validations: [{ step: 100, logs: { val_loss: 0.9 } }], epochs: [{ step: 100, logs: { loss: 1 } }] } });
  assert.equal(lossOnly.data.length, plain.data.length + 1);
  assert.ok(figureToSvg(figure).includes("val_accuracy"), "the static image draws the validation curves too");
});
