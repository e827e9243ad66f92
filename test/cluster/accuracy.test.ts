/**
 * Real data, real accuracy: an MLP and a small CNN trained data-parallel on 2 workers over the
 * MNIST digits the `mnist` package ships reach a stated test accuracy within a bounded time, and
 * the model comes back to this process for evaluation; on wasm with the native kernels
 * (wasm-blas) and on plain wasm.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { launchCluster, mnistDigits, type Cluster, type TrainOptions } from "../../lib/index.js";
import { cpuBackends } from "./helpers.js";

/** Accuracy both models must reach on the held-out digits (measured here: MLP 0.907, CNN 0.919). */
const requiredAccuracy = 0.88;
/** Wall-time bound of each training run on a 2-core CI machine (measured here: 5-7 s). */
const trainingBoundMs = 60_000;

async function testAccuracy(model: tf.LayersModel, sampleShape: number[]): Promise<number> {
  const { test } = mnistDigits({ sampleShape });
  const { xs, ys } = test.batch(Uint32Array.from({ length: test.size }, (_, i) => i));
  const accuracy = tf.tidy(() => (model.predict(xs) as tf.Tensor).argMax(-1).equal(ys.argMax(-1)).mean());
  const value = (await accuracy.data())[0]!;
  tf.dispose([xs, ys, accuracy]);
  model.dispose();
  return value;
}

for (const backend of cpuBackends) describe(`training on the MNIST digits on ${backend}`, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await launchCluster({ workers: 2, backend });
  });
  after(async () => {
    await cluster.close();
  });

  const cases: Array<{ name: string; sampleShape: number[]; options: TrainOptions }> = [
    {
      name: "an MLP (784-128-10), 2 epochs",
      sampleShape: [784],
      options: {
        model: ({ tf: t }: { tf: typeof tf }) =>
          t.sequential({ layers: [t.layers.dense({ inputShape: [784], units: 128, activation: "relu" }), t.layers.dense({ units: 10, activation: "softmax" })] }),
        data: { builtin: "mnist", sampleShape: [784] },
        optimizer: { name: "adam", learningRate: 0.002 },
        batchSize: 64,
        epochs: 2,
        seed: 1,
      },
    },
    {
      name: "a CNN (conv8-pool-conv16-pool-dense10), 1 epoch",
      sampleShape: [28, 28, 1],
      options: {
        model: ({ tf: t }: { tf: typeof tf }) =>
          t.sequential({
            layers: [
              t.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: "relu" }),
              t.layers.maxPooling2d({ poolSize: 2 }),
              t.layers.conv2d({ filters: 16, kernelSize: 3, activation: "relu" }),
              t.layers.maxPooling2d({ poolSize: 2 }),
              t.layers.flatten(),
              t.layers.dense({ units: 10, activation: "softmax" }),
            ],
          }),
        data: { builtin: "mnist", sampleShape: [28, 28, 1] },
        optimizer: { name: "adam", learningRate: 0.003 },
        batchSize: 64,
        epochs: 1,
        seed: 1,
      },
    },
  ];
  for (const { name, sampleShape, options } of cases) {
    it(`${name} reaches ${requiredAccuracy * 100}% test accuracy within ${trainingBoundMs / 1000} s`, async () => {
      const startedAt = performance.now();
      const result = await cluster.train(options);
      const elapsedMs = performance.now() - startedAt;
      assert.equal(result.backend, backend);
      assert.ok(elapsedMs < trainingBoundMs, `training took ${Math.round(elapsedMs)} ms`);
      const losses = result.history.columns.loss;
      assert.ok(losses.at(-1)! < losses[0]! / 3, `loss fell from ${losses[0]} to ${losses.at(-1)}`);
      const model = await cluster.model();
      assert.ok(model instanceof tf.LayersModel);
      const accuracy = await testAccuracy(model, sampleShape);
      assert.ok(accuracy >= requiredAccuracy, `test accuracy ${accuracy.toFixed(4)} < ${requiredAccuracy}`);
    });
  }
});
