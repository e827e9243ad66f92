// %% [markdown]
// # Quickstart: data-parallel training on MNIST digits
// A cluster of warm worker processes trains a small neural network on the handwritten digits that
// ship with ringbook (about 8,500 for training, 1,500 for testing; nothing to download). Every
// step, each worker computes gradients on its share of the batch, the workers average them with a
// ring all-reduce, and all apply the same update, so they hold identical weights.
//
// Edit the parameters below and run all cells. Headless, with other values:
// `npx ringbook run notebooks/quickstart.ipynb -p epochs 1 -p stepsPerEpoch 20`.

// %% parameters
const workers = 2; // worker processes (each uses one CPU core, or one GPU with tfjs-node-gpu)
const epochs = 5; // passes over the training digits
const stepsPerEpoch = 0; // 0: the whole training set every epoch; a small number for a quick look
const batchSize = 256; // global batch, split evenly across the workers
const learningRate = 0.002;
const hiddenUnits = 128;

// %% [markdown]
// ## Launch the workers
// `launchCluster` starts the processes once; they stay warm for every run below. `describe()`
// shows each rank's process, backend and device.

// %%
import * as tf from "@tensorflow/tfjs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchCluster, loadModel, mnistDigits, saveModel, useWasmBackend } from "ringbook";

const cluster = await launchCluster({ workers });
cluster.describe()

// %% [markdown]
// ## Train
// The model function runs on every worker (it travels as source text, so it uses the `tf` and
// `args` it is given rather than variables of this notebook). The progress line and the plot
// update live while the run goes: training loss every step, and after every epoch the loss and
// accuracy on the test digits (`validationData`, evaluated on the workers, each a share). `await`
// gives the result.

// %%
const run = cluster.train({
  model: ({ tf, args }: { tf: typeof import("@tensorflow/tfjs"); args: { hiddenUnits: number } }) =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [784], units: args.hiddenUnits, activation: "relu" }),
        tf.layers.dense({ units: 10, activation: "softmax" }),
      ],
    }),
  args: { hiddenUnits },
  data: { builtin: "mnist", split: "train" },
  validationData: { builtin: "mnist", split: "test" },
  loss: "categoricalCrossentropy",
  metrics: ["accuracy"],
  optimizer: { name: "adam", learningRate },
  batchSize,
  epochs,
  stepsPerEpoch: stepsPerEpoch > 0 ? stepsPerEpoch : undefined,
  seed: 1,
});
const result = await run;
// Throughput of a typical step (the median), as the workers measured it.
const samplesPerSecond = Math.round([...result.history.columns.samplesPerSecond].sort((a, b) => a - b)[Math.floor(result.history.length / 2)]!);
console.log(`${result.steps} steps on ${result.backend}, final loss ${result.finalLoss.toFixed(4)}, ${samplesPerSecond} samples/s`);
for (const { epoch, logs } of result.validations) console.log(`epoch ${epoch + 1}: val_loss ${logs["val_loss"]!.toFixed(4)}, val_accuracy ${(logs["val_accuracy"]! * 100).toFixed(1)}%`);

// %% [markdown]
// ## Evaluate, save, load
// `cluster.model()` copies the trained weights from rank 0 into this notebook as a
// `tf.LayersModel` compiled with the run's loss and metrics: `evaluate`, `predict` or `fit` it like
// any tfjs model. `saveModel` writes it in tfjs's format (atomically), and `loadModel` (or tfjs's
// own `tf.loadLayersModel("file://...")`) reads it back, here or in any Node process.

// %%
await useWasmBackend();
const trained = await cluster.model();
const { test } = mnistDigits();
const testSet = test.batch(Uint32Array.from({ length: test.size }, (_, i) => i));
const evaluated = trained.evaluate(testSet.xs, testSet.ys);
const [, accuracy] = (Array.isArray(evaluated) ? evaluated : [evaluated]).map((value) => value.dataSync()[0]!);
const testAccuracy = accuracy ?? Number.NaN;
const modelRoot = await mkdtemp(join(tmpdir(), "ringbook-quickstart-"));
const modelDir = join(modelRoot, "mnist-mlp");
await saveModel(trained, modelDir);
const reloaded = await loadModel(modelDir);
const reloadedAccuracy = tf.tidy(() => {
  const predicted = (reloaded.predict(testSet.xs) as tf.Tensor).argMax(-1);
  return predicted.equal(testSet.ys.argMax(-1)).mean().dataSync()[0]!;
});
tf.dispose([testSet.xs, testSet.ys]);
trained.dispose();
reloaded.dispose();
await rm(modelRoot, { recursive: true }); // a real notebook would keep it
console.log(`test accuracy: ${(testAccuracy * 100).toFixed(1)}% of ${test.size} digits; saved to ${modelDir}, reloaded: ${(reloadedAccuracy * 100).toFixed(1)}%`);

// %% [markdown]
// ## Summary and clean-up
// One JSON line with the numbers of this run (CI reads it), then the workers are stopped. A
// closed cluster leaves no process or socket behind.

// %%
const losses = result.history.columns.loss;
console.log(JSON.stringify({
  template: "quickstart",
  workers,
  steps: result.steps,
  firstLoss: losses[0],
  finalLoss: result.finalLoss,
  samplesPerSecond,
  valAccuracy: result.validations.at(-1)?.logs["val_accuracy"],
  testAccuracy,
  reloadedAccuracy,
}));
await cluster.close();
