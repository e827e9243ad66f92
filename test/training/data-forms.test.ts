/**
 * Every form of `data` trains as single-process training does: 2 and 4 ranks (in this process,
 * meeting in the in-process all-reduce) give the weights and losses of `trainSingleProcess` on the
 * same global batches, with an uneven last batch (18 samples in batches of 8: the last has 2, so
 * with 4 ranks two of them get none). The forms that read the same samples in the same order give
 * the same run. The real-process version of these runs is test/cluster/data-forms.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { trainSingleProcess } from "../../lib/training/train-single-process.js";
import type { TrainContext } from "../../lib/training/train-spec.js";
import { base, classifier, features, forms, labels, oneHot, samples, targets } from "./data-form-cases.js";
import { assertAllTrained, flatWeights, maxAbsDifference, trainInProcess, weightsOfRank } from "./train-in-process.js";

await tf.setBackend("cpu");

/**
 * Float32 sums in another order (per-rank gradients added by the all-reduce, against one batch's
 * sum) differ in the last bits; SGD over 6 steps keeps that far below this.
 */
const tolerance = 1e-5;

for (const { name, options } of forms) {
  test(`${name}: 2 and 4 ranks give single-process training's weights and losses, with an uneven last batch`, async () => {
    const alone = await trainSingleProcess(options);
    assert.equal(alone.records.length, 6, "3 steps per epoch (8, 8, 2 samples) × 2 epochs");
    const aloneWeights = flatWeights(alone.model);
    for (const worldSize of [2, 4]) {
      const run = await trainInProcess(worldSize, options);
      assertAllTrained(run);
      assert.equal(run.losses.length, 6);
      run.losses.forEach((loss, i) => assert.ok(Math.abs(loss - alone.records[i]!.loss) < tolerance, `${worldSize} ranks, step ${i + 1}: loss ${loss} vs ${alone.records[i]!.loss}`));
      for (let rank = 0; rank < worldSize; rank++) {
        const difference = maxAbsDifference(await weightsOfRank(rank), aloneWeights);
        assert.ok(difference < tolerance, `${worldSize} ranks, rank ${rank}: max |weight difference| ${difference}`);
      }
      const lastOfEpoch = run.records.filter((r) => r.stepInEpoch === 2);
      assert.ok(lastOfEpoch.every((r) => r.globalSamples === 2 && r.stepsInEpoch === 3), "the last batch of each epoch holds 2 samples");
      if (worldSize === 4) assert.deepEqual(lastOfEpoch.filter((r) => r.epoch === 0).sort((a, b) => a.rank - b.rank).map((r) => r.samples), [1, 1, 0, 0]);
    }
  });
}

test("a tf.data.Dataset gives the batches of the same samples in memory read in order (shuffle: false)", async () => {
  const stream = await trainSingleProcess(forms.find((f) => f.name.startsWith("a tf.data.Dataset of known"))!.options);
  const inMemory = await trainSingleProcess({ ...base, model: classifier, data: { xs: features, ys: oneHot }, shuffle: false });
  assert.deepEqual(flatWeights(stream.model), flatWeights(inMemory.model));
  assert.deepEqual(stream.records.map((r) => r.loss), inMemory.records.map((r) => r.loss));
});

test("typed arrays, nested arrays, tensors and a TensorDataset of the same samples train identically", async () => {
  // One after another: this process keeps one trained model per rank, and a run replaces the last.
  const runs: Float32Array[] = [];
  for (const { options } of [forms[0]!, forms[1]!, forms[4]!]) runs.push(flatWeights((await trainSingleProcess(options)).model));
  const flat = await trainSingleProcess({ ...base, model: classifier, data: { xs: Float32Array.from(features.flat()), ys: Float32Array.from(oneHot.flat()) } });
  for (const weights of runs) assert.deepEqual(weights, flatWeights(flat.model));
});

test("a flat typed array takes the shape of the model's input it feeds", async () => {
  const cnn = ({ tf: t }: TrainContext) =>
    t.sequential({ layers: [t.layers.conv2d({ inputShape: [2, 2, 1], filters: 2, kernelSize: 2 }), t.layers.flatten(), t.layers.dense({ units: 3, activation: "softmax" })] });
  const images = features.map((row) => [row[0]!, row[1]!, row[2]!, row[0]! * row[1]!]);
  const nested = await trainSingleProcess({ ...base, model: cnn, data: { xs: images.map((image) => [[[image[0]!], [image[1]!]], [[image[2]!], [image[3]!]]]), ys: oneHot } });
  const flat = await trainSingleProcess({ ...base, model: cnn, data: { xs: Float32Array.from(images.flat()), ys: oneHot } });
  assert.deepEqual(flatWeights(flat.model), flatWeights(nested.model));
});

test("a two-output model comes back compiled with its loss per output, by name; evaluate works on it", async () => {
  // Without its loss weights: tfjs compiles weighted losses as functions (multi-output.test.ts checks those).
  const run = await trainSingleProcess({ ...forms[7]!.options, lossWeights: undefined });
  const model = (await run.trainedModel()) as tf.LayersModel;
  assert.deepEqual(model.loss, { price: "meanSquaredError", kind: "sparseCategoricalCrossentropy" });
  const xs = [tf.tensor2d(features.map((row) => [row[0]!, row[1]!])), tf.tensor2d(features.map((row) => [row[2]!]))];
  // Float labels: tfjs's own sparseCategoricalCrossentropy (compiled by name) floors them, which int32 refuses.
  const ys = [tf.tensor2d(targets.map((t) => [t])), tf.tensor1d(labels)];
  const expected = tf.tidy(() => {
    const [price, kind] = model.predict(xs) as tf.Tensor[];
    return tf.metrics.meanSquaredError(ys[0]!, price!).mean().add(tf.metrics.categoricalCrossentropy(tf.oneHot(tf.tensor1d(labels, "int32"), 3), kind!).mean()).dataSync()[0]!;
  });
  // tfjs's evaluate gives the running sum of the outputs' losses (then per-output values): the sum is among them.
  const evaluated = (model.evaluate(xs, ys, { batchSize: samples }) as tf.Scalar[]).map((s) => s.dataSync()[0]!);
  assert.ok(evaluated.some((value) => Math.abs(value - expected) < 1e-5), `${expected} in ${evaluated.join(", ")}`);
  model.dispose();
  tf.dispose([...xs, ...ys]);
});

test("a stream of unknown size reports NaN steps per epoch until its end, then the count", async () => {
  const run = await trainInProcess(2, forms.find((f) => f.name.startsWith("a generator"))!.options);
  assertAllTrained(run);
  const ofRank0 = run.records.filter((r) => r.rank === 0);
  assert.deepEqual(ofRank0.map((r) => r.stepsInEpoch), [NaN, NaN, 3, NaN, NaN, 3]);
  assert.deepEqual(
    run.events.filter((e) => e.kind === "ready").map((e) => e.kind === "ready" && e.datasetSize),
    [null, null],
  );
});

test("data and model runs leave no tensors behind (tensors a data function makes for { xs, ys } are freed)", async () => {
  const options = forms[0]!.options;
  await trainInProcess(2, options);
  const before = tf.memory().numTensors;
  for (const { options: formOptions } of [forms[0]!, forms[5]!, forms[6]!, forms[7]!]) await trainInProcess(2, formOptions);
  await trainInProcess(2, options);
  assert.equal(tf.memory().numTensors, before);
});

test("gradient accumulation over a stream, of known or unknown size, equals accumulation over the same samples in memory, on 1, 2 and 4 ranks", async () => {
  // 18 samples in micro-batches of 8 → groups of 2: steps of (8, 8) and (2) per epoch, and stepsPerEpoch counts optimizer steps.
  const accumulation = { accumulationSteps: 2 } as const;
  const inMemory = await trainSingleProcess({ ...base, model: classifier, data: { xs: features, ys: oneHot }, shuffle: false, ...accumulation });
  assert.equal(inMemory.records.length, 4, "2 optimizer steps per epoch × 2 epochs");
  assert.deepEqual(inMemory.records.map((r) => r.globalSamples), [16, 2, 16, 2]);
  const expected = flatWeights(inMemory.model);
  for (const formName of ["a tf.data.Dataset of known", "a generator-backed"]) {
    const form = forms.find((f) => f.name.startsWith(formName));
    assert.ok(form !== undefined, `a data form named "${formName}..." exists: ${forms.map((f) => f.name).join(" | ")}`);
    const options = { ...form.options, ...accumulation };
    const alone = await trainSingleProcess(options);
    assert.ok(maxAbsDifference(flatWeights(alone.model), expected) < tolerance, `${form.name}: accumulated like the samples in memory`);
    for (const worldSize of [2, 4]) {
      const run = await trainInProcess(worldSize, options);
      assertAllTrained(run);
      assert.equal(run.losses.length, 4, `${form.name}, ${worldSize} ranks`);
      run.losses.forEach((loss, i) => assert.ok(Math.abs(loss - alone.records[i]!.loss) < tolerance, `${form.name}, ${worldSize} ranks, step ${i + 1}: loss ${loss} vs ${alone.records[i]!.loss}`));
      const difference = maxAbsDifference(await weightsOfRank(0), expected);
      assert.ok(difference < tolerance, `${form.name}, ${worldSize} ranks: max |weight difference| ${difference}`);
    }
  }
  const limited = await trainSingleProcess({ ...base, model: classifier, data: { xs: features, ys: oneHot }, shuffle: false, ...accumulation, stepsPerEpoch: 1 });
  assert.deepEqual(limited.records.map((r) => [r.epoch, r.globalSamples]), [[0, 16], [1, 16]], "stepsPerEpoch counts optimizer steps");
});
