/**
 * Validation and metrics on ranks in one process (the all-reduce faked at its seam): 2 and 4 ranks
 * give the epoch metrics and validation logs of single-process training, which are themselves
 * checked against tfjs's `model.evaluate` on the trained model; validation every N steps; early
 * stopping on `val_loss`; a validation set of the wrong shape.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { trainSingleProcess } from "../../lib/training/train-single-process.js";
import type { TrainOptions } from "../../lib/training/train-spec.js";
import type { EpochRecord } from "../../lib/training/epoch-record.js";
import type { ValidationRecord } from "../../lib/training/validation.js";
import { assertAllTrained, trainInProcess } from "./train-in-process.js";

await tf.setBackend("cpu");

/** 23 validation samples: batches of 8, 8 and 7, so shards are uneven on 2 and on 4 ranks. */
const validationSize = 23;
const validationXs = Array.from({ length: validationSize }, (_, i) => Array.from({ length: 8 }, (_, j) => Math.sin(i * 1.3 + j * 0.7)));
const validationYs = Array.from({ length: validationSize }, (_, i) => [0, 1, 2].map((c) => (c === i % 3 ? 1 : 0)));

const options = (overrides: Partial<TrainOptions>): TrainOptions => ({
  model: ({ tf: t }) =>
    t.sequential({ layers: [t.layers.dense({ inputShape: [8], units: 6, activation: "relu" }), t.layers.dense({ units: 3, activation: "softmax" })] }),
  data: { builtin: "synthetic", size: 60, features: 8, classes: 3, seed: 2 },
  loss: "categoricalCrossentropy",
  metrics: ["accuracy", function meanTop(_yTrue: tf.Tensor, yPred: tf.Tensor) { return tf.max(yPred, -1); }],
  validationData: { xs: validationXs, ys: validationYs },
  optimizer: { name: "adam", learningRate: 0.05 },
  batchSize: 8,
  epochs: 2,
  seed: 3,
  ...overrides,
});

function epochsOf(run: Awaited<ReturnType<typeof trainInProcess>>): EpochRecord[] {
  return run.events.flatMap((e) => (e.kind === "epochs" ? e.records : []));
}
function validationsOf(run: Awaited<ReturnType<typeof trainInProcess>>): ValidationRecord[] {
  return run.events.flatMap((e) => (e.kind === "validations" ? e.records : []));
}

/** Every log of `actual` within `tolerance` of `expected`'s, and the same names. */
function assertLogsClose(actual: Record<string, number>, expected: Record<string, number>, tolerance: number, what: string): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what}: log names`);
  for (const [name, value] of Object.entries(expected)) assert.ok(Math.abs(actual[name]! - value) <= tolerance, `${what}: ${name} ${actual[name]} vs ${value}`);
}

test("validation and metrics on 2 and 4 ranks equal single-process training's, which equal tfjs's model.evaluate on the trained model", async () => {
  const alone = await trainSingleProcess(options({}));
  assert.deepEqual(Object.keys(alone.epochs[0]!.logs).sort(), ["accuracy", "learningRate", "loss", "meanTop", "val_accuracy", "val_loss", "val_meanTop"]);
  // The oracle for the oracle: the last validation ran on the final weights; tfjs evaluates them in inference mode.
  const last = alone.epochs.at(-1)!.logs;
  const model = await alone.trainedModel();
  assert.ok(model instanceof tf.LayersModel);
  const xs = tf.tensor2d(validationXs);
  const ys = tf.tensor2d(validationYs);
  // Compiled with the run's metrics: [loss, accuracy, meanTop].
  const evaluated = model.evaluate(xs, ys, { batchSize: 8 }) as tf.Scalar[];
  assert.equal(evaluated.length, 3);
  const [expectedLoss, compiledAccuracy, compiledTop] = evaluated.map((t) => t.dataSync()[0]!);
  assert.ok(Math.abs(last.val_accuracy! - compiledAccuracy!) < 1e-6 && Math.abs(last.val_meanTop! - compiledTop!) < 1e-5, `compiled metrics ${compiledAccuracy}, ${compiledTop}`);
  assert.ok(Math.abs(last.val_loss! - expectedLoss!) < 1e-5, `val_loss ${last.val_loss} vs tfjs evaluate ${expectedLoss}`);
  const predicted = model.predict(xs) as tf.Tensor;
  const expectedAccuracy = tf.mean(tf.cast(tf.equal(tf.argMax(predicted, -1), tf.argMax(ys, -1)), "float32")).dataSync()[0]!;
  assert.ok(Math.abs(last.val_accuracy! - expectedAccuracy) < 1e-6, `val_accuracy ${last.val_accuracy} vs ${expectedAccuracy}`);
  const expectedTop = tf.mean(tf.max(predicted, -1)).dataSync()[0]!;
  assert.ok(Math.abs(last.val_meanTop! - expectedTop) < 1e-5, `val_meanTop ${last.val_meanTop} vs ${expectedTop}`);
  tf.dispose([xs, ys, ...evaluated, predicted]);
  model.dispose();
  for (const worldSize of [2, 4]) {
    const run = await trainInProcess(worldSize, options({}));
    assertAllTrained(run);
    const epochs = epochsOf(run);
    assert.equal(epochs.length, 2);
    // Tolerance: float32 sums in a different order (shards, then ranks).
    epochs.forEach((epoch, i) => assertLogsClose(epoch.logs, alone.epochs[i]!.logs, 2e-5, `${worldSize} ranks, epoch ${i}`));
    assert.deepEqual(validationsOf(run).map((v) => [v.step, v.samples]), [[8, validationSize], [16, validationSize]]);
  }
});

test("validationEvery steps validates every N steps and at epoch ends, a stream as validation data included", async () => {
  const stream = ({ tf: t, args }: { tf: typeof tf; args: { xs: number[][]; ys: number[][] } }) => t.data.zip({ xs: t.data.array(args.xs.map((x) => t.tensor1d(x))), ys: t.data.array(args.ys.map((y) => t.tensor1d(y))) });
  const overrides = { validationData: stream, args: { xs: validationXs, ys: validationYs }, validationEvery: { steps: 3, epochs: 1 }, epochs: 2 } as Partial<TrainOptions>;
  const alone = await trainSingleProcess(options(overrides));
  // 8 steps per epoch: every 3 steps (3, 6, 9, 12, 15) and at the epoch ends (8, 16).
  assert.deepEqual(alone.validations.map((v) => v.step), [3, 6, 8, 9, 12, 15, 16]);
  const two = await trainInProcess(2, options(overrides));
  assertAllTrained(two);
  const validations = validationsOf(two);
  assert.deepEqual(validations.map((v) => v.step), [3, 6, 8, 9, 12, 15, 16]);
  validations.forEach((v, i) => assertLogsClose(v.logs, alone.validations[i]!.logs, 2e-5, `validation at step ${v.step}`));
  // Inline arrays and the stream are the same data: the same validation logs.
  const inline = await trainSingleProcess(options({ epochs: 2 }));
  assertLogsClose(alone.epochs[1]!.logs, inline.epochs[1]!.logs, 1e-6, "stream vs arrays");
  // Only every N steps: the epoch logs carry no val_ values.
  const stepsOnly = await trainSingleProcess(options({ validationEvery: { steps: 5 }, epochs: 1 }));
  assert.deepEqual(stepsOnly.validations.map((v) => v.step), [5]);
  assert.equal(stepsOnly.epochs[0]!.logs.val_loss, undefined);
});

test("early stopping on val_loss stops every rank at the same epoch, with the best epoch's val_loss", async () => {
  const earlyStopping = { monitor: "val_loss", minDelta: 1e9, patience: 1 };
  const run = await trainInProcess(2, options({ epochs: 5, earlyStopping }));
  assertAllTrained(run);
  const epochs = epochsOf(run);
  for (const result of run.results) {
    assert.equal(result.status, "fulfilled");
    if (result.status !== "fulfilled") continue;
    assert.deepEqual(result.value.earlyStopping, { stoppedEpoch: 1, bestEpoch: 0, best: epochs[0]!.logs.val_loss, restoredBestWeights: false });
  }
  assert.equal(epochs.length, 2);
});

test("validation data whose targets do not fit the model is refused on every rank, saying it is the validation data", async () => {
  const run = await trainInProcess(2, options({ validationData: { xs: validationXs, ys: validationXs.map((x) => x.slice(0, 2)) } }));
  for (const result of run.results) {
    assert.equal(result.status, "rejected");
    if (result.status === "rejected") assert.match(String(result.reason), /validationData: /);
  }
  const wrongInputs = await trainInProcess(2, options({ validationData: { xs: validationYs, ys: validationYs } }));
  for (const result of wrongInputs.results) {
    assert.equal(result.status, "rejected");
    if (result.status === "rejected") assert.match(String(result.reason), /validationData: .*inputs \[n, 3\] do not match the model's input/);
  }
});

test("a custom variables model gets metrics and validation too (its predict gives the outputs), on 2 ranks as alone", async () => {
  const custom = ({ tf: t }: { tf: typeof tf }) => {
    const w = t.variable(t.randomNormal([8, 3], 0, 0.5, "float32", 7));
    const logits = (xs: tf.Tensor) => t.matMul(xs as tf.Tensor2D, w);
    return { variables: [w], loss: (xs: tf.Tensor, ys: tf.Tensor) => t.losses.softmaxCrossEntropy(ys, logits(xs)) as tf.Scalar, predict: (xs: tf.Tensor) => t.softmax(logits(xs)) };
  };
  const alone = await trainSingleProcess(options({ model: custom, metrics: ["accuracy", "mse"] }));
  const two = await trainInProcess(2, options({ model: custom, metrics: ["accuracy", "mse"] }));
  assertAllTrained(two);
  epochsOf(two).forEach((epoch, i) => assertLogsClose(epoch.logs, alone.epochs[i]!.logs, 2e-5, `custom model, epoch ${i}`));
  assert.ok(alone.epochs[1]!.logs.val_accuracy! >= 0 && alone.epochs[1]!.logs.val_accuracy! <= 1);
});

test("metrics and validation leak no tensors over a run", async () => {
  const overrides = { metrics: ["accuracy", "precision"], validationEvery: { steps: 3, epochs: 1 } } as Partial<TrainOptions>;
  await trainSingleProcess(options(overrides));
  const before = tf.memory().numTensors;
  await trainSingleProcess(options(overrides));
  assert.equal(tf.memory().numTensors, before);
});

test("a two-output model logs each output's loss and each metric per output (<output>_loss, <output>_<metric>, val_ too), on 2 ranks as alone", async () => {
  const twoOutputs = ({ tf: t }: { tf: typeof tf }) => {
    const input = t.input({ shape: [8] });
    const hidden = t.layers.dense({ units: 4, activation: "tanh" }).apply(input) as tf.SymbolicTensor;
    const a = t.layers.dense({ units: 1, name: "a" }).apply(hidden) as tf.SymbolicTensor;
    const b = t.layers.dense({ units: 2, name: "b" }).apply(hidden) as tf.SymbolicTensor;
    return t.model({ inputs: input, outputs: [a, b] });
  };
  const ys = { a: validationXs.map((x) => [x[0]! + x[1]!]), b: validationXs.map((x) => [x[2]!, x[3]! * 2]) };
  const multi = options({ model: twoOutputs, loss: "meanSquaredError", metrics: ["mae"], data: { xs: validationXs, ys }, validationData: { xs: validationXs.slice(0, 11), ys: { a: ys.a.slice(0, 11), b: ys.b.slice(0, 11) } } });
  const alone = await trainSingleProcess(multi);
  assert.deepEqual(Object.keys(alone.epochs[0]!.logs).sort(), ["a_loss", "a_mae", "b_loss", "b_mae", "learningRate", "loss", "val_a_loss", "val_a_mae", "val_b_loss", "val_b_mae", "val_loss"]);
  const two = await trainInProcess(2, multi);
  assertAllTrained(two);
  epochsOf(two).forEach((epoch, i) => assertLogsClose(epoch.logs, alone.epochs[i]!.logs, 2e-5, `two outputs, epoch ${i}`));
});

test("validationSteps evaluates the first N batches of every pass, from the start each time: arrays, an endless tf.data.Dataset and an endless generator give the logs of those batches alone, on 2 ranks as alone", async () => {
  // 2 batches of 8: the first 16 of the 23 validation samples, validated at steps 3, 6, 8 (epoch end), 9, ...
  const every = { validationEvery: { steps: 3, epochs: 1 } } as Partial<TrainOptions>;
  const firstSixteen = await trainSingleProcess(options({ ...every, validationData: { xs: validationXs.slice(0, 16), ys: validationYs.slice(0, 16) } }));
  const args = { xs: validationXs, ys: validationYs };
  const forms: Array<{ name: string; validationData: TrainOptions["validationData"] }> = [
    { name: "arrays", validationData: { xs: validationXs, ys: validationYs } },
    {
      name: "an endless tf.data.Dataset (.repeat())",
      validationData: ({ tf: t, args: a }: { tf: typeof tf; args: typeof args }) => t.data.zip({ xs: t.data.array(a.xs.map((x) => t.tensor1d(x))), ys: t.data.array(a.ys.map((y) => t.tensor1d(y))) }).repeat(),
    },
    {
      name: "an endless generator (size unknown)",
      validationData: ({ tf: t, args: a }: { tf: typeof tf; args: typeof args }) =>
        t.data.generator(function* () {
          for (let i = 0; ; i++) yield { xs: t.tensor1d(a.xs[i % a.xs.length]!), ys: t.tensor1d(a.ys[i % a.ys.length]!) };
        }),
    },
  ];
  for (const { name, validationData } of forms) {
    const withSteps = options({ ...every, validationData, validationSteps: 2, args });
    const alone = await trainSingleProcess(withSteps);
    assert.deepEqual(alone.validations.map((v) => [v.step, v.samples]), firstSixteen.validations.map((v) => [v.step, 16]), name);
    alone.validations.forEach((v, i) => assertLogsClose(v.logs, firstSixteen.validations[i]!.logs, 1e-6, `${name}, alone, validation at step ${v.step}`));
    const two = await trainInProcess(2, withSteps);
    assertAllTrained(two);
    validationsOf(two).forEach((v, i) => assertLogsClose(v.logs, firstSixteen.validations[i]!.logs, 2e-5, `${name}, 2 ranks, validation at step ${v.step}`));
  }
});

test("an endless validation stream without validationSteps is refused before training, saying to give validationSteps; validationSteps is checked on the owner", async () => {
  const endless = options({
    args: { xs: validationXs, ys: validationYs },
    validationData: ({ tf: t, args }: { tf: typeof tf; args: { xs: number[][]; ys: number[][] } }) => t.data.zip({ xs: t.data.array(args.xs.map((x) => t.tensor1d(x))), ys: t.data.array(args.ys.map((y) => t.tensor1d(y))) }).repeat(),
  });
  const run = await trainInProcess(2, endless);
  for (const result of run.results) {
    assert.equal(result.status, "rejected");
    if (result.status === "rejected") assert.match(String(result.reason), /validationData: the validation tf.data.Dataset is endless \(size Infinity, e.g. after .repeat\(\)\): give validationSteps, the number of batches to evaluate in each pass/);
  }
  assert.equal(run.records.length, 0, "no step trained");
  await assert.rejects(trainSingleProcess(options({ validationSteps: 0 })), /validationSteps must be a positive integer \(batches to evaluate in each pass\), got 0/);
  await assert.rejects(trainSingleProcess(options({ validationData: undefined, validationSteps: 2 })), /validationSteps is set but validationData is not/);
  await assert.rejects(trainSingleProcess({ ...options({}), validationStep: 2 } as TrainOptions), /unknown option `validationStep`; did you mean `validationSteps`\?/);
});
