/**
 * Metric math against tfjs's own `tf.metrics.*` on small arrays, summed over uneven batches as
 * ranks sum them; and the errors of the `metrics`, `validationData` and `validationEvery` options.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { MetricSums, resolveMetrics, type MetricSpec } from "../../lib/training/metrics.js";
import { parseTrainOptions, type TrainOptions } from "../../lib/training/train-spec.js";

await tf.setBackend("cpu");

/** The logs of `specs` over `yTrue`/`yPred`, added up in batches of the given sizes (as shards of ranks are). */
function metricLogs(specs: MetricSpec[], yTrue: tf.Tensor, yPred: tf.Tensor, splits: number[]): Record<string, number> {
  const before = tf.memory().numTensors;
  const sums = new MetricSums(resolveMetrics(specs, ["out"], () => assert.fail("no function metrics here")));
  const trues = tf.split(yTrue, splits);
  const preds = tf.split(yPred, splits);
  trues.forEach((t, i) => {
    sums.add([preds[i]!], [t]);
    sums.count(splits[i]!);
  });
  tf.dispose([...trues, ...preds]);
  assert.equal(tf.memory().numTensors, before, "adding up metrics leaks no tensors");
  return sums.logs(sums.payload, { withLoss: false });
}

const scalar = (t: tf.Tensor): number => {
  const value = tf.mean(t).dataSync()[0]!;
  t.dispose();
  return value;
};

test("accuracy, mse, mae, precision and recall summed over uneven batches equal tfjs's tf.metrics on the whole set", () => {
  // Three classes, seven samples: one-hot targets, class indices, probabilities.
  const probs = tf.tensor2d([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6], [0.1, 0.6, 0.3], [0.4, 0.5, 0.1]]);
  const labels = tf.tensor1d([0, 1, 1, 1, 2, 0, 1]);
  const oneHot = tf.oneHot(tf.cast(labels, "int32"), 3).toFloat();
  const splits = [3, 0, 4];
  const categorical = metricLogs([{ name: "accuracy" }, { name: "categoricalAccuracy" }, { name: "mse" }, { name: "mae" }], oneHot, probs, splits);
  assert.ok(Math.abs(categorical.accuracy! - scalar(tf.metrics.categoricalAccuracy(oneHot, probs))) < 1e-6);
  assert.equal(categorical.accuracy, categorical.categoricalAccuracy);
  assert.ok(Math.abs(categorical.mse! - scalar(tf.metrics.meanSquaredError(oneHot, probs))) < 1e-6);
  assert.ok(Math.abs(categorical.mae! - scalar(tf.metrics.meanAbsoluteError(oneHot, probs))) < 1e-6);
  const sparse = metricLogs([{ name: "accuracy" }, { name: "sparseCategoricalAccuracy" }], labels, probs, splits);
  const expectedSparse = scalar(tf.metrics.sparseCategoricalAccuracy(tf.expandDims(labels, 1), probs));
  assert.ok(Math.abs(sparse.accuracy! - expectedSparse) < 1e-6, `sparse accuracy ${sparse.accuracy} vs ${expectedSparse}`);
  assert.equal(sparse.sparseCategoricalAccuracy, sparse.accuracy);
  // One sigmoid unit: accuracy is binary; precision and recall threshold at 0.5 as Keras's.
  const sigmoid = tf.tensor2d([[0.9], [0.2], [0.6], [0.4], [0.7], [0.1], [0.55]]);
  const binary = tf.tensor1d([1, 0, 0, 1, 1, 0, 1]);
  const binaryLogs = metricLogs([{ name: "accuracy" }, { name: "binaryAccuracy" }, { name: "precision" }, { name: "recall" }], binary, sigmoid, splits);
  const column = tf.expandDims(binary, 1);
  const thresholded = tf.cast(tf.greater(sigmoid, 0.5), "float32");
  assert.ok(Math.abs(binaryLogs.accuracy! - scalar(tf.metrics.binaryAccuracy(column, sigmoid))) < 1e-6);
  assert.equal(binaryLogs.binaryAccuracy, binaryLogs.accuracy);
  assert.ok(Math.abs(binaryLogs.precision! - scalar(tf.metrics.precision(column, thresholded))) < 1e-6);
  assert.ok(Math.abs(binaryLogs.recall! - scalar(tf.metrics.recall(column, thresholded))) < 1e-6);
  tf.dispose([probs, labels, oneHot, sigmoid, binary, column, thresholded]);
});

test("a function metric is averaged over samples; several outputs name metrics <output>_<metric>", () => {
  const metrics = resolveMetrics([{ source: "", name: "meanPred" }, { name: "mae" }], ["a", "b"], () => (_yTrue, yPred) => tf.mean(yPred, -1));
  assert.deepEqual(metrics.map((m) => [m.logName, m.output]), [["a_meanPred", 0], ["a_mae", 0], ["b_meanPred", 1], ["b_mae", 1]]);
  const sums = new MetricSums(metrics);
  const a = tf.tensor2d([[1], [3]]);
  const b = tf.tensor2d([[2], [6]]);
  sums.add([a, b], [a, tf.zerosLike(b)]);
  sums.count(2);
  assert.deepEqual(sums.logs(sums.payload, { withLoss: false }), { a_meanPred: 2, a_mae: 0, b_meanPred: 4, b_mae: 4 });
  tf.dispose([a, b]);
});

const base: TrainOptions = { model: ({ tf: t }) => t.sequential(), data: { xs: [[0], [1]], ys: [0, 1] }, batchSize: 2 };
const refused = (overrides: Record<string, unknown>, message: RegExp): void => {
  assert.throws(() => parseTrainOptions({ ...base, ...overrides }, 2), message);
};

test("metrics, validationData and validationEvery are refused before any worker computes, naming the bad value", () => {
  refused({ metrics: ["acuracy"] }, /unknown metric "acuracy" \(metrics\[0\]\); did you mean `accuracy`\?/);
  refused({ metrics: ["accuracy", 3] }, /unknown metric 3 \(metrics\[1\]\)/);
  refused({ metrics: "accuracy" }, /metrics must be an array of metric names or functions/);
  refused({ metrics: ["mse", "mse"] }, /metrics names "mse" twice/);
  refused({ validationData: 42 }, /validationData is a number \(42\); give a function/);
  refused({ validationData: { xs: [[0]] } }, /validationData needs both xs \(the inputs\) and ys/);
  refused({ validationData: { xs: [[0]], ys: [0], zs: [1] } }, /unknown option `validationData.zs`/);
  refused({ validationData: { builtin: "mnits" } }, /did you mean `mnist`/);
  refused({ validationEvery: { steps: 10 } }, /validationEvery is set but validationData is not/);
  refused({ validationData: { builtin: "mnist" }, validationEvery: { steps: 0 } }, /validationEvery must be \{ steps: N \} and\/or \{ epochs: N \} with positive integers, got steps: 0/);
  refused({ validationData: { builtin: "mnist" }, validationEvery: { step: 10 } }, /unknown option `validationEvery.step`; did you mean `validationEvery.steps`\?/);
  refused({ validationData: { builtin: "mnist" }, validationEvery: 5 }, /validationEvery must be/);
  refused({ validationData: { builtin: "mnist" }, validationEvery: { steps: 5 }, earlyStopping: { monitor: "val_loss" } }, /earlyStopping.monitor "val_loss" is not a log of this run; val_ logs need validationData, evaluated at epoch ends/);
  refused({ metrics: ["accuracy"], validationData: { builtin: "mnist" }, earlyStopping: { monitor: "val_acuracy" } }, /did you mean `val_accuracy`\?/);
  const spec = parseTrainOptions({ ...base, metrics: ["accuracy"], validationData: { builtin: "mnist" }, earlyStopping: { monitor: "val_accuracy" } }, 2);
  assert.equal(spec.controls.earlyStopping?.mode, "max", "accuracy is better higher");
  assert.deepEqual(spec.validation?.every, { epochs: 1 });
});
