/**
 * A functional model with two heads (a regression `reg` and a softmax classifier `cls`), a loss
 * per output, per-output loss weights, metrics per output and validation: tfjs's `model.fit` is
 * the oracle for single-process training (same initial weights, data order and SGD; tfjs's compile
 * has no loss weights, so its losses are scaled by hand), and single-process training is the
 * oracle for 2 and 4 ranks (all-reduce faked at its seam). And the loss weights' errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { trainSingleProcess } from "../../lib/training/train-single-process.js";
import type { TrainContext, TrainOptions } from "../../lib/training/train-spec.js";
import { features, oneHot, targets } from "./data-form-cases.js";
import { assertAllTrained, flatWeights, maxAbsDifference, trainInProcess, weightsOfRank } from "./train-in-process.js";

await tf.setBackend("cpu");

/** Float32 sums in another order (shards, then ranks; tfjs's kernels against ours) differ in the last bits. */
const tolerance = 2e-5;

// Seeded initialisers: every build of the model starts from the same weights.
const twoHeads = ({ tf: t }: Pick<TrainContext, "tf">) => {
  const input = t.input({ shape: [3] });
  const seeded = (seed: number) => ({ kernelInitializer: t.initializers.glorotUniform({ seed }), biasInitializer: t.initializers.randomNormal({ seed: seed + 100, stddev: 0.1 }) });
  const hidden = t.layers.dense({ units: 6, activation: "tanh", ...seeded(31) }).apply(input) as tf.SymbolicTensor;
  const reg = t.layers.dense({ units: 1, name: "reg", ...seeded(32) }).apply(hidden) as tf.SymbolicTensor;
  const cls = t.layers.dense({ units: 3, activation: "softmax", name: "cls", ...seeded(33) }).apply(hidden) as tf.SymbolicTensor;
  return t.model({ inputs: input, outputs: [reg, cls] });
};

/** 11 validation samples of another pattern: batches of 8 and 3, uneven shards on 2 and 4 ranks. */
const validationXs = Array.from({ length: 11 }, (_, i) => [Math.cos(i * 2.3), Math.sin(i * 1.7 + 1), Math.cos(i * 0.9 + 2)]);
const validationReg = validationXs.map((row) => 2 * row[0]! - row[1]! + 0.5 * row[2]!);
const validationCls = validationXs.map((row) => [0, 1, 2].map((c) => (c === (row[0]! + row[1]! > 0 ? (row[2]! > 0 ? 2 : 1) : 0) ? 1 : 0)));

const weights = { reg: 0.5, cls: 2 };
const options = (overrides: Partial<TrainOptions> = {}): TrainOptions => ({
  model: twoHeads,
  data: { xs: features, ys: { reg: targets, cls: oneHot } },
  loss: { reg: "meanSquaredError", cls: "categoricalCrossentropy" },
  lossWeights: weights,
  metrics: ["mae", "accuracy"],
  validationData: { xs: validationXs, ys: { reg: validationReg, cls: validationCls } },
  optimizer: { name: "sgd", learningRate: 0.1 },
  batchSize: 8,
  epochs: 3,
  seed: 5,
  ...overrides,
});

function assertClose(actual: number | undefined, expected: number | undefined, what: string): void {
  assert.ok(actual !== undefined && expected !== undefined && Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
}

test("a two-output model with weighted per-output losses, metrics and validation: trainSingleProcess gives model.fit's losses, metrics and weights", async () => {
  const ours = await trainSingleProcess(options({ shuffle: false }));
  const theirs = twoHeads({ tf });
  // tfjs's compile ignores loss weights: each output's loss is scaled by its weight instead.
  const scaled = (fn: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor, weight: number) => (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.mul(fn(yTrue, yPred), weight);
  theirs.compile({
    optimizer: tf.train.sgd(0.1),
    loss: [scaled(tf.metrics.meanSquaredError, weights.reg), scaled(tf.metrics.categoricalCrossentropy, weights.cls)],
    metrics: ["mae", "accuracy"],
  });
  const tensors = [tf.tensor2d(features), tf.tensor2d(targets.map((y) => [y])), tf.tensor2d(oneHot), tf.tensor2d(validationXs), tf.tensor2d(validationReg.map((y) => [y])), tf.tensor2d(validationCls)] as const;
  const [xs, reg, cls, valXs, valReg, valCls] = tensors;
  try {
    // tfjs 4.22's evaluate (and so fit's val_ logs) of a multi-output model is off by one: its
    // `loss` is the first output's loss and every later name holds the value before it. The
    // validation oracle is computed here instead, from the model's predictions at each epoch's end.
    const validation: Array<Record<string, number>> = [];
    const validate = (): void =>
      tf.tidy(() => {
        const [regOut, clsOut] = theirs.predict(valXs) as tf.Tensor[];
        const mean = (t: tf.Tensor): number => tf.mean(t).dataSync()[0]!;
        const regLoss = mean(tf.metrics.meanSquaredError(valReg, regOut!));
        const clsLoss = mean(tf.metrics.categoricalCrossentropy(valCls, clsOut!));
        validation.push({
          val_loss: weights.reg * regLoss + weights.cls * clsLoss,
          val_reg_loss: regLoss,
          val_cls_loss: clsLoss,
          val_reg_mae: mean(tf.metrics.meanAbsoluteError(valReg, regOut!)),
          val_reg_accuracy: mean(tf.metrics.binaryAccuracy(valReg, regOut!)),
          val_cls_mae: mean(tf.metrics.meanAbsoluteError(valCls, clsOut!)),
          val_cls_accuracy: mean(tf.metrics.categoricalAccuracy(valCls, clsOut!)),
        });
      });
    const history = await theirs.fit(xs, [reg, cls], { batchSize: 8, epochs: 3, shuffle: false, verbose: 0, callbacks: { onEpochEnd: async () => validate() } });
    const fit = (name: string, epoch: number): number | undefined => {
      const values = history.history[name];
      assert.ok(values !== undefined, `model.fit logs ${name} (it has ${Object.keys(history.history).join(", ")})`);
      return Number(values[epoch]);
    };
    assert.equal(ours.epochs.length, 3);
    assert.deepEqual(Object.keys(ours.epochs[0]!.logs).sort(), [
      "cls_accuracy", "cls_loss", "cls_mae", "learningRate", "loss", "reg_accuracy", "reg_loss", "reg_mae",
      "val_cls_accuracy", "val_cls_loss", "val_cls_mae", "val_loss", "val_reg_accuracy", "val_reg_loss", "val_reg_mae",
    ]);
    ours.epochs.forEach(({ logs }, epoch) => {
      assertClose(logs.loss, fit("loss", epoch), `epoch ${epoch} loss`);
      for (const output of ["reg", "cls"] as const) {
        // Per-output losses are logged unweighted (as Keras does); tfjs's here are the scaled functions'.
        assertClose(logs[`${output}_loss`]! * weights[output], fit(`${output}_loss`, epoch), `epoch ${epoch} ${output}_loss`);
        // tfjs names accuracy `acc`.
        assertClose(logs[`${output}_accuracy`], fit(`${output}_acc`, epoch), `epoch ${epoch} ${output}_accuracy`);
        assertClose(logs[`${output}_mae`], fit(`${output}_mae`, epoch), `epoch ${epoch} ${output}_mae`);
      }
      for (const [name, value] of Object.entries(validation[epoch]!)) assertClose(logs[name], value, `epoch ${epoch} ${name}`);
    });
    const fitWeights = new Float32Array(theirs.getWeights().flatMap((weight) => [...(weight.dataSync() as Float32Array)]));
    const difference = maxAbsDifference(flatWeights(ours.model), fitWeights);
    assert.ok(difference < 1e-5, `max |weight difference| ${difference}`);
    // The trained model comes back compiled with the weighted losses: its loss on the validation
    // set (one batch; trainOnBatch reports the loss before its update) is the last val_loss.
    const trained = await ours.trainedModel();
    try {
      assert.ok(trained instanceof tf.LayersModel);
      const [compiledLoss] = (await trained.trainOnBatch(valXs, [valReg, valCls])) as number[];
      assertClose(compiledLoss, ours.epochs[2]!.logs.val_loss, "the compiled model's loss vs the last val_loss");
    } finally {
      trained.dispose();
    }
  } finally {
    tf.dispose([...tensors]);
    theirs.dispose();
  }
});

test("a two-output model with weighted per-output losses, metrics and validation: 2 and 4 ranks give single-process training's logs and weights", async () => {
  const alone = await trainSingleProcess(options());
  const aloneWeights = flatWeights(alone.model);
  for (const worldSize of [2, 4]) {
    const run = await trainInProcess(worldSize, options());
    assertAllTrained(run);
    const epochs = run.events.flatMap((e) => (e.kind === "epochs" ? e.records : []));
    assert.equal(epochs.length, 3);
    epochs.forEach(({ logs }, epoch) => {
      const expected = alone.epochs[epoch]!.logs;
      assert.deepEqual(Object.keys(logs).sort(), Object.keys(expected).sort(), `${worldSize} ranks, epoch ${epoch}: log names`);
      for (const [name, value] of Object.entries(expected)) assertClose(logs[name], value, `${worldSize} ranks, epoch ${epoch}: ${name}`);
    });
    for (let rank = 0; rank < worldSize; rank++) {
      const difference = maxAbsDifference(await weightsOfRank(rank), aloneWeights);
      assert.ok(difference < 1e-5, `${worldSize} ranks, rank ${rank}: max |weight difference| ${difference}`);
    }
  }
});

test("loss weights change training as Keras's do: an array in output order equals the map, an output the map leaves out weighs 1, all ones equal none", async () => {
  const byName = flatWeights((await trainSingleProcess(options({ validationData: undefined, epochs: 1 }))).model);
  const byPosition = flatWeights((await trainSingleProcess(options({ validationData: undefined, epochs: 1, lossWeights: [0.5, 2] }))).model);
  assert.deepEqual(byPosition, byName);
  const leftOut = flatWeights((await trainSingleProcess(options({ validationData: undefined, epochs: 1, lossWeights: { cls: 2 } }))).model);
  const explicitOne = flatWeights((await trainSingleProcess(options({ validationData: undefined, epochs: 1, lossWeights: [1, 2] }))).model);
  assert.deepEqual(leftOut, explicitOne);
  const ones = await trainSingleProcess(options({ validationData: undefined, epochs: 1, lossWeights: [1, 1] }));
  const none = await trainSingleProcess(options({ validationData: undefined, epochs: 1, lossWeights: undefined }));
  assert.deepEqual(flatWeights(ones.model), flatWeights(none.model));
  assert.notDeepEqual(byName, flatWeights(none.model));
  // The first step's loss is Σ weight × output loss of the untrained model on the first batch.
  const model = twoHeads({ tf });
  let expected = 0;
  tf.tidy(() => {
    const [regOut, clsOut] = model.predict(tf.tensor2d(features.slice(0, 8))) as tf.Tensor[];
    const regLoss = tf.mean(tf.metrics.meanSquaredError(tf.tensor2d(targets.slice(0, 8).map((y) => [y])), regOut!)).dataSync()[0]!;
    const clsLoss = tf.mean(tf.metrics.categoricalCrossentropy(tf.tensor2d(oneHot.slice(0, 8)), clsOut!)).dataSync()[0]!;
    expected = 0.5 * regLoss + 2 * clsLoss;
  });
  model.dispose();
  const firstStep = (await trainSingleProcess(options({ validationData: undefined, epochs: 1, shuffle: false }))).records[0]!;
  assertClose(firstStep.loss, expected, "first step's loss");
});

test("loss weights that do not fit the model or the loss are refused, naming the outputs", async () => {
  const run = await trainInProcess(2, options({ loss: "meanSquaredError", lossWeights: { regg: 1 } }));
  for (const result of run.results) {
    assert.equal(result.status, "rejected");
    if (result.status === "rejected") assert.match(String(result.reason), /lossWeights names output "regg", which the model does not have; did you mean `reg`\?; the model has 2 outputs \(reg, cls\)/);
  }
  const tooMany = await trainInProcess(2, options({ loss: "meanSquaredError", lossWeights: [1, 2, 3] }));
  for (const result of tooMany.results) {
    assert.equal(result.status, "rejected");
    if (result.status === "rejected") assert.match(String(result.reason), /lossWeights has 3 entries but the model has 2 outputs \(reg, cls\)/);
  }
  await assert.rejects(trainSingleProcess(options({ lossWeights: { clss: 2 } })), /lossWeights names output "clss", which loss does not name; did you mean `cls`\?; loss names the outputs reg, cls/);
  await assert.rejects(trainSingleProcess(options({ loss: ["meanSquaredError", "categoricalCrossentropy"], lossWeights: [1] })), /lossWeights has 1 entries but loss has 2/);
  await assert.rejects(trainSingleProcess(options({ lossWeights: { reg: -1 } })), /lossWeights\.reg must be a finite number ≥ 0, got -1/);
  await assert.rejects(trainSingleProcess(options({ lossWeights: [] })), /lossWeights must be an array of numbers .* got an empty array/);
  await assert.rejects(trainSingleProcess(options({ lossWeights: 2 as never })), /lossWeights must be an array of numbers/);
  await assert.rejects(trainSingleProcess({ ...options(), lossWeight: [1, 1] } as TrainOptions), /unknown option `lossWeight`; did you mean `lossWeights`\?/);
  const custom = ({ tf: t }: TrainContext) => {
    const w = t.variable(t.zeros([3, 1]));
    return { variables: [w], loss: (x: tf.Tensor, y: tf.Tensor) => t.losses.meanSquaredError(y, t.matMul(x as tf.Tensor2D, w)) as tf.Scalar, predict: (x: tf.Tensor) => t.matMul(x as tf.Tensor2D, w) };
  };
  await assert.rejects(
    trainSingleProcess({ model: custom, data: { xs: features, ys: targets.map((y) => [y]) }, lossWeights: [2], batchSize: 8 }),
    /lossWeights weights a layers model's outputs; a custom model .* computes its own loss/,
  );
});

test("early stopping monitors a per-output log (val_cls_accuracy, higher is better; val_reg_loss): 2 and 4 ranks stop where single-process training does, with its best epoch and weights", async () => {
  const byAccuracy = options({ epochs: 8, earlyStopping: { monitor: "val_cls_accuracy", patience: 2, restoreBestWeights: true } });
  const alone = await trainSingleProcess(byAccuracy);
  const outcome = alone.result.earlyStopping!;
  const seen = alone.epochs.map((epoch) => epoch.logs.val_cls_accuracy!);
  // "auto" resolves to max for an accuracy: the best is the first epoch with the highest accuracy.
  assert.equal(outcome.best, Math.max(...seen));
  assert.equal(outcome.bestEpoch, seen.indexOf(Math.max(...seen)));
  assert.equal(outcome.restoredBestWeights, true);
  assert.ok(outcome.stoppedEpoch !== null && outcome.stoppedEpoch < 7, `stopped early: ${JSON.stringify(outcome)}, accuracies ${seen.join(", ")}`);
  const two = await trainInProcess(2, byAccuracy);
  assertAllTrained(two);
  for (const result of two.results) if (result.status === "fulfilled") assert.deepEqual(result.value.earlyStopping, outcome);
  const difference = maxAbsDifference(await weightsOfRank(1), flatWeights(alone.model));
  assert.ok(difference < 1e-5, `restored weights, 2 ranks vs alone: ${difference}`);

  // Nothing improves by 1e9: the run stops after its second epoch, the first being the best.
  const four = await trainInProcess(4, options({ epochs: 6, earlyStopping: { monitor: "val_reg_loss", minDelta: 1e9, patience: 1 } }));
  assertAllTrained(four);
  const epochs = four.events.flatMap((e) => (e.kind === "epochs" ? e.records : []));
  assert.equal(epochs.length, 2);
  for (const result of four.results) {
    if (result.status === "fulfilled") assert.deepEqual(result.value.earlyStopping, { stoppedEpoch: 1, bestEpoch: 0, best: epochs[0]!.logs.val_reg_loss, restoredBestWeights: false });
  }
});

test("an early-stopping monitor that names no log of the run is refused before training: a per-output name on the workers (which know the outputs), others on the owner", async () => {
  const typo = await trainInProcess(2, options({ earlyStopping: { monitor: "val_clss_accuracy" } }));
  for (const result of typo.results) {
    assert.equal(result.status, "rejected");
    if (result.status === "rejected") assert.match(String(result.reason), /earlyStopping.monitor "val_clss_accuracy" is not a log of this run; did you mean `val_cls_accuracy`\?; it has loss, reg_loss, cls_loss, reg_mae/);
  }
  assert.equal(typo.records.length, 0, "no step trained");
  const singleOutput = { model: ({ tf: t }: TrainContext) => t.sequential({ layers: [t.layers.dense({ inputShape: [3], units: 3, activation: "softmax" })] }), data: { xs: features, ys: oneHot }, batchSize: 8, metrics: ["accuracy"] };
  await assert.rejects(trainSingleProcess({ ...singleOutput, earlyStopping: { monitor: "cls_accuracy" } }), /earlyStopping.monitor "cls_accuracy" is not a log of this run; did you mean `accuracy`\?; it has loss, accuracy/);
  await assert.rejects(trainSingleProcess(options({ earlyStopping: { monitor: "cls_acc" } })), /earlyStopping.monitor "cls_acc" is not a log of this run/);
});
