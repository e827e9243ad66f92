/**
 * The oracle's own oracle: `trainSingleProcess` (the reference that N-worker training is checked
 * against) gives what tfjs's `model.fit` gives for the same model, initial weights, data order
 * (shuffle: false) and optimizer, with an uneven last batch (18 samples in batches of 8), for a
 * classifier and a regressor, with SGD and Adam: the final weights and every epoch's mean loss.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { trainSingleProcess } from "../../lib/training/train-single-process.js";
import type { TrainOptions } from "../../lib/training/train-spec.js";
import { features, oneHot, targets } from "./data-form-cases.js";
import { flatWeights, maxAbsDifference } from "./train-in-process.js";

await tf.setBackend("cpu");

/** Float32 sums in another order (tfjs's fused kernels against ours) differ in the last bits. */
const tolerance = 1e-5;

// Seeded initialisers: the model function on the "worker" and the model built here start equal.
const classifier = ({ tf: t }: { tf: typeof tf }) =>
  t.sequential({
    layers: [
      t.layers.dense({ inputShape: [3], units: 5, activation: "relu", kernelInitializer: t.initializers.glorotUniform({ seed: 11 }), biasInitializer: t.initializers.randomNormal({ seed: 12, stddev: 0.1 }) }),
      t.layers.dense({ units: 3, activation: "softmax", kernelInitializer: t.initializers.glorotUniform({ seed: 13 }) }),
    ],
  });
const regressor = ({ tf: t }: { tf: typeof tf }) =>
  t.sequential({
    layers: [
      t.layers.dense({ inputShape: [3], units: 4, activation: "tanh", kernelInitializer: t.initializers.glorotUniform({ seed: 21 }), biasInitializer: t.initializers.randomNormal({ seed: 22, stddev: 0.1 }) }),
      t.layers.dense({ units: 1, kernelInitializer: t.initializers.glorotUniform({ seed: 23 }) }),
    ],
  });

const cases: Array<{ name: string; model: (context: { tf: typeof tf }) => tf.LayersModel; ys: number[][]; loss: "categoricalCrossentropy" | "meanSquaredError" }> = [
  { name: "a softmax classifier with categoricalCrossentropy", model: classifier, ys: oneHot, loss: "categoricalCrossentropy" },
  { name: "a regressor with meanSquaredError", model: regressor, ys: targets.map((y) => [y]), loss: "meanSquaredError" },
];
const optimizers = [
  { spec: { name: "sgd", learningRate: 0.1 } as const, make: () => tf.train.sgd(0.1) },
  { spec: { name: "adam", learningRate: 0.01 } as const, make: () => tf.train.adam(0.01) },
];

for (const { name, model, ys, loss } of cases) {
  for (const { spec, make } of optimizers) {
    test(`${name}, ${spec.name}: trainSingleProcess gives model.fit's weights and epoch losses`, async () => {
      const options: TrainOptions = { model, data: { xs: features, ys }, loss, optimizer: spec, batchSize: 8, epochs: 3, shuffle: false, seed: 0 };
      const ours = await trainSingleProcess(options);
      const theirs = model({ tf });
      theirs.compile({ optimizer: make(), loss });
      const xs = tf.tensor2d(features);
      const ysTensor = tf.tensor2d(ys);
      try {
        const history = await theirs.fit(xs, ysTensor, { batchSize: 8, epochs: 3, shuffle: false, verbose: 0 });
        const fitLosses = history.history["loss"]!.map(Number);
        const ourLosses = ours.epochs.map((epoch) => epoch.logs["loss"]!);
        assert.equal(ourLosses.length, 3);
        ourLosses.forEach((value, i) => assert.ok(Math.abs(value - fitLosses[i]!) < tolerance, `epoch ${i + 1}: loss ${value} vs model.fit's ${fitLosses[i]}`));
        const fitWeights = new Float32Array(theirs.getWeights().flatMap((weight) => [...(weight.dataSync() as Float32Array)]));
        const difference = maxAbsDifference(flatWeights(ours.model), fitWeights);
        assert.ok(difference < tolerance, `max |weight difference| ${difference}`);
      } finally {
        tf.dispose([xs, ysTensor]);
        theirs.dispose();
      }
    });
  }
}
