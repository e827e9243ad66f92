// %% [markdown]
// # Regression on your own arrays
// Training on data you already hold in the notebook: plain arrays of features and targets (no
// Dataset class to write), a mean-squared-error loss, a held-out validation set evaluated on the
// workers after every epoch, a learning rate that warms up then decays, gradient clipping, and early
// stopping that keeps the best epoch's weights. At the end the model is evaluated here, saved and
// loaded back.
//
// Headless: `npx ringbook run notebooks/regression.ipynb -p epochs 5`.

// %% parameters
const workers = 2; // worker processes
const samples = 4000; // rows of the synthetic table below
const epochs = 30; // at most: early stopping may end the run sooner
const batchSize = 128; // global batch, split evenly across the workers
const peakLearningRate = 0.01;
const patience = 4; // epochs without a better val_loss before stopping

// %% [markdown]
// ## The data
// A table of 6 features and one target that depends on them non-linearly, with noise: the kind of
// arrays a researcher has after loading a CSV. The last fifth is held out for validation.

// %%
import * as tf from "@tensorflow/tfjs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cosineDecay, launchCluster, loadModel, saveModel } from "ringbook";

// A small seeded generator, so that every run sees the same table.
let state = 12345;
const random = (): number => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state / 2 ** 32;
};
const features: number[][] = [];
const targets: number[] = [];
for (let i = 0; i < samples; i++) {
  const x = Array.from({ length: 6 }, () => random() * 2 - 1);
  features.push(x);
  targets.push(Math.sin(2 * x[0]!) + x[1]! * x[2]! - 0.5 * x[3]! ** 2 + 0.3 * x[4]! + 0.05 * (random() - 0.5));
}
const split = Math.floor(samples * 0.8);
const train = { xs: features.slice(0, split), ys: targets.slice(0, split) };
const validation = { xs: features.slice(split), ys: targets.slice(split) };
// What predicting the training mean would score: the bar the model must clear.
const mean = train.ys.reduce((sum, y) => sum + y, 0) / train.ys.length;
const baselineMse = validation.ys.reduce((sum, y) => sum + (y - mean) ** 2, 0) / validation.ys.length;
console.log(`${train.ys.length} training rows, ${validation.ys.length} validation rows; predicting the mean gives val mse ${baselineMse.toFixed(4)}`);

// %% [markdown]
// ## Train
// `data` and `validationData` take the arrays as they are: targets `[n]` feed the model's
// 1-unit output. Steps per epoch come from the data, so the schedule's length is known here.

// %%
const cluster = await launchCluster({ workers });
const stepsPerEpoch = Math.ceil(train.ys.length / batchSize);
const run = cluster.train({
  model: ({ tf }: { tf: typeof import("@tensorflow/tfjs") }) =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [6], units: 64, activation: "relu" }),
        tf.layers.dense({ units: 64, activation: "relu" }),
        tf.layers.dense({ units: 1 }),
      ],
    }),
  data: train,
  validationData: validation,
  loss: "meanSquaredError",
  metrics: ["mae"],
  optimizer: {
    name: "adam",
    learningRate: cosineDecay({ initialLearningRate: 0, warmupTarget: peakLearningRate, warmupSteps: stepsPerEpoch, decaySteps: stepsPerEpoch * epochs }),
  },
  clipNorm: 1,
  earlyStopping: { monitor: "val_loss", patience, restoreBestWeights: true },
  batchSize,
  epochs,
  seed: 7,
  live: { title: "regression" },
});
const result = await run;
for (const { epoch, logs } of result.validations) console.log(`epoch ${epoch + 1}: val_loss ${logs["val_loss"]!.toFixed(4)}, val_mae ${logs["val_mae"]!.toFixed(4)}`);
const best = Math.min(...result.validations.map(({ logs }) => logs["val_loss"]!));
const stoppedEpoch = result.earlyStopping?.stoppedEpoch ?? null;
console.log(`${result.steps} steps; best val_loss ${best.toFixed(4)} against ${baselineMse.toFixed(4)} for the mean${stoppedEpoch === null ? "" : `; stopped early after epoch ${stoppedEpoch + 1}`}`);

// %% [markdown]
// ## Evaluate, save, load
// The workers hold the best epoch's weights (restored by early stopping); `cluster.model()` copies
// them here, compiled with the run's loss and metrics.

// %%
const trained = await cluster.model();
const validationXs = tf.tensor2d(validation.xs);
const validationYs = tf.tensor2d(validation.ys, [validation.ys.length, 1]);
const evaluated = trained.evaluate(validationXs, validationYs);
const [evaluatedMse] = (Array.isArray(evaluated) ? evaluated : [evaluated]).map((value) => value.dataSync()[0]!);
const modelRoot = await mkdtemp(join(tmpdir(), "ringbook-regression-"));
await saveModel(trained, join(modelRoot, "model"));
const reloaded = await loadModel(join(modelRoot, "model"));
const difference = tf.tidy(() => (reloaded.predict(validationXs) as tf.Tensor).sub(trained.predict(validationXs) as tf.Tensor).abs().max().dataSync()[0]!);
tf.dispose([validationXs, validationYs]);
trained.dispose();
reloaded.dispose();
await rm(modelRoot, { recursive: true }); // a real notebook would keep it
console.log(`evaluated here: val mse ${evaluatedMse!.toFixed(4)}; the reloaded model's predictions differ by at most ${difference}`);

// %% [markdown]
// ## Summary and clean-up

// %%
console.log(JSON.stringify({
  template: "regression",
  workers,
  steps: result.steps,
  firstLoss: result.history.columns.loss[0],
  finalLoss: result.finalLoss,
  baselineMse,
  bestValLoss: best,
  evaluatedMse,
  restoredBestWeights: result.earlyStopping?.restoredBestWeights === true,
  reloadDifference: difference,
}));
await cluster.close();
