import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import * as tf from "@tensorflow/tfjs";

import { prepareBackends, prepareNativeBackends, scaledMaxError, seededValues } from "./kernel-comparison.js";

/** Largest accepted |wasm − cpu| per weight gradient, relative to max(1, max |cpu|). */
const GRADIENT_TOLERANCE = 1e-4;

/** The benchmark's CNN shrunk for test speed, plus the other layers whose gradients need kernels. */
function buildConvModel(): tf.LayersModel {
  const seed = { value: 1 };
  const init = () => tf.initializers.glorotUniform({ seed: seed.value++ });
  const input = tf.input({ shape: [14, 14, 2] });
  let h = tf.layers.conv2d({ filters: 6, kernelSize: 3, activation: "relu", kernelInitializer: init() }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: "same", activation: "relu", kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization().apply(h) as tf.SymbolicTensor;
  h = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: "same", depthwiseInitializer: init() }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.separableConv2d({ filters: 5, kernelSize: 2, depthwiseInitializer: init(), pointwiseInitializer: init() }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.averagePooling2d({ poolSize: 2, padding: "same" }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 12, activation: "relu", kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  const output = tf.layers.dense({ units: 10, activation: "softmax", kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}

function buildEmbeddingModel(): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.embedding({ inputDim: 30, outputDim: 4, inputLength: 6, embeddingsInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 7 }) }));
  model.add(tf.layers.conv1d({ filters: 3, kernelSize: 3, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 10, activation: "softmax", kernelInitializer: tf.initializers.glorotUniform({ seed: 9 }) }));
  return model;
}

/** Gradients of the mean categorical cross-entropy w.r.t. every trainable weight, on `backend`. */
async function lossGradients(backend: "cpu" | "wasm", model: tf.LayersModel, data: Batch): Promise<Map<string, Float32Array>> {
  await tf.setBackend(backend);
  // Inputs are made on each backend: tfjs 4.22 migrates a cpu tensor that came from an int32 → float32
  // cast to wasm as raw int32 bits (garbage floats), which would compare tfjs's migration, not the kernels.
  const xs = tf.tensor(data.xs, data.xsShape);
  const labels = tf.tensor2d(data.labels, [data.labels.length / 10, 10]);
  const { value, grads } = tf.variableGrads(() =>
    tf.losses.softmaxCrossEntropy(labels, tf.log(model.apply(xs, { training: true }) as tf.Tensor)),
  );
  const result = new Map<string, Float32Array>();
  for (const [name, grad] of Object.entries(grads)) result.set(name, Float32Array.from(grad.dataSync()));
  tf.dispose([xs, labels, value, ...Object.values(grads)]);
  return result;
}

/** A batch as plain arrays: inputs and one-hot labels over 10 classes. */
interface Batch {
  xs: Float32Array;
  xsShape: number[];
  labels: Float32Array;
}

function oneHotLabels(batch: number, seed: number): Float32Array {
  const labels = new Float32Array(batch * 10);
  seededValues(seed, batch).forEach((v, row) => {
    labels[row * 10 + Math.floor((v + 1) * 5)] = 1;
  });
  return labels;
}

async function assertGradientsMatch(model: tf.LayersModel, data: Batch): Promise<void> {
  const expected = await lossGradients("cpu", model, data);
  const actual = await lossGradients("wasm", model, data);
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  assert.equal(actual.size, model.trainableWeights.length);
  for (const [name, values] of expected) {
    const error = scaledMaxError(actual.get(name) ?? [], values);
    assert.ok(error <= GRADIENT_TOLERANCE, `gradient of ${name}: scaled error ${error} > ${GRADIENT_TOLERANCE}`);
  }
}

/** Plain wasm, and wasm with the native kernels (skipped, saying why, where the addon is missing). */
const nativeUnavailable = await prepareNativeBackends();
const variants = [
  { name: "wasm", prepare: prepareBackends, skip: undefined },
  { name: "wasm-blas", prepare: async () => void (await prepareNativeBackends()), skip: nativeUnavailable },
];

for (const variant of variants) describe(`whole-model gradients on ${variant.name} match the cpu backend`, { skip: variant.skip }, () => {
  before(variant.prepare);

  test("a CNN with conv, pooling, batch norm, depthwise and separable layers", async () => {
    await tf.setBackend("cpu");
    const model = buildConvModel();
    await assertGradientsMatch(model, { xs: seededValues(21, 3 * 14 * 14 * 2), xsShape: [3, 14, 14, 2], labels: oneHotLabels(3, 22) });
    model.dispose();
  });

  test("an embedding model (gather's gradient is UnsortedSegmentSum)", async () => {
    await tf.setBackend("cpu");
    const model = buildEmbeddingModel();
    const ids = Float32Array.from(seededValues(31, 4 * 6), (v) => Math.floor((v + 1) * 15));
    await assertGradientsMatch(model, { xs: ids, xsShape: [4, 6], labels: oneHotLabels(4, 32) });
    model.dispose();
  });

  test(`training with dropout and Adam on ${variant.name} keeps the tensor count unchanged`, async () => {
    await tf.setBackend("wasm");
    const model = buildConvModel();
    const withDropout = tf.sequential({ layers: [model, tf.layers.dropout({ rate: 0.3 })] });
    withDropout.compile({ optimizer: tf.train.adam(1e-3), loss: "categoricalCrossentropy" });
    const xs = tf.tensor4d(seededValues(41, 8 * 14 * 14 * 2), [8, 14, 14, 2]);
    const labels = tf.tensor2d(oneHotLabels(8, 42), [8, 10]);
    await withDropout.trainOnBatch(xs, labels);
    const tensorsBefore = tf.memory().numTensors;
    const buffersBefore = tf.backend().numDataIds();
    for (let step = 0; step < 3; step++) {
      const loss = await withDropout.trainOnBatch(xs, labels);
      assert.ok(typeof loss === "number" && Number.isFinite(loss), `loss at step ${step} is ${String(loss)}`);
    }
    assert.equal(tf.memory().numTensors, tensorsBefore);
    assert.equal(tf.backend().numDataIds(), buffersBefore);
    tf.dispose([xs, labels]);
    withDropout.dispose();
  });
});
