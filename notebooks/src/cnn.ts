// %% [markdown]
// # A small convolutional network on MNIST digits
// Two convolution + max-pooling blocks and a dense classifier, trained data-parallel on a warm
// cluster. Images arrive as `[28, 28, 1]` (height, width, channels) instead of flat vectors.
// Convolutions cost several times more per sample than the quickstart's MLP. On CPU workers the
// wasm backend trains them with ringbook's own gradient kernels (tfjs-backend-wasm has none for
// convolutions); with `@tensorflow/tfjs-node-gpu` installed, each worker trains on its own GPU.
//
// Headless: `npx ringbook run notebooks/cnn.ipynb -p epochs 1 -p filters 16`.

// %% parameters
const workers = 2;
const epochs = 2;
const stepsPerEpoch = 0; // 0: every training digit each epoch
const batchSize = 64; // global batch, split across the workers
const learningRate = 0.002;
const filters = 8; // filters of the first convolution; the second has twice as many

// %%
import * as tf from "@tensorflow/tfjs";
import { launchCluster, mnistDigits, useWasmBackend } from "ringbook";

const cluster = await launchCluster({ workers });
cluster.describe()

// %% [markdown]
// ## The model
// conv 3×3 → max-pool 2×2 → conv 3×3 → max-pool 2×2 → dense softmax. The function runs on each
// worker, so it takes `tf` and `args` as arguments instead of using this notebook's variables.

// %%
const cnn = ({ tf, args }: { tf: typeof import("@tensorflow/tfjs"); args: { filters: number } }) =>
  tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: args.filters, kernelSize: 3, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: args.filters * 2, kernelSize: 3, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });

const result = await cluster.train({
  model: cnn,
  args: { filters },
  data: { builtin: "mnist", split: "train", sampleShape: [28, 28, 1] },
  optimizer: { name: "adam", learningRate },
  batchSize,
  epochs,
  stepsPerEpoch: stepsPerEpoch > 0 ? stepsPerEpoch : undefined,
  seed: 1,
  live: { title: `CNN, ${workers} workers` },
});
// Throughput of a typical step (the median), as the workers measured it.
const samplesPerSecond = Math.round([...result.history.columns.samplesPerSecond].sort((a, b) => a - b)[Math.floor(result.history.length / 2)]!);
console.log(`${result.steps} steps, ${result.parameterCount} parameters, final loss ${result.finalLoss.toFixed(4)}, ${samplesPerSecond} samples/s`);

// %% [markdown]
// ## Test accuracy
// The trained weights come back from rank 0 as a `tf.LayersModel`.

// %%
await useWasmBackend();
const trained = await cluster.model();
if (!(trained instanceof tf.LayersModel)) throw new Error("expected a layers model");
const { test } = mnistDigits({ sampleShape: [28, 28, 1] });
const testSet = test.batch(Uint32Array.from({ length: test.size }, (_, i) => i));
const testAccuracy = tf.tidy(() => {
  const predicted = (trained.predict(testSet.xs) as tf.Tensor).argMax(-1);
  return predicted.equal(testSet.ys.argMax(-1)).mean().dataSync()[0]!;
});
tf.dispose([testSet.xs, testSet.ys]);
trained.dispose();
console.log(`test accuracy: ${(testAccuracy * 100).toFixed(1)}% of ${test.size} digits`);

// %% [markdown]
// ## Summary and clean-up

// %%
const losses = result.history.columns.loss;
console.log(JSON.stringify({
  template: "cnn",
  workers,
  steps: result.steps,
  firstLoss: losses[0],
  finalLoss: result.finalLoss,
  samplesPerSecond,
  testAccuracy,
}));
await cluster.close();
