// %% [markdown]
// # Learning-rate sweep on a warm cluster
// The same model trained once per learning rate, one run after another on the same workers (no
// process start-up between runs), from the same initial weights and data order (`seed`), so the
// loss curves differ only by the learning rate. They end up side by side in one chart.
//
// Headless: `npx ringbook run notebooks/hyperparameter-sweep.ipynb -p learningRates "[0.001, 0.01]" -p stepsPerRun 20`.

// %% parameters
const learningRates = [0.0003, 0.001, 0.003, 0.01]; // one run each
const optimizer = "adam"; // "sgd", "momentum", "adam", "rmsprop", ...
const workers = 2;
const epochs = 2; // per run
const stepsPerRun = 0; // 0: `epochs` full passes; otherwise this many steps per run (one epoch)
const batchSize = 256;

// %%
import { launchCluster, linePlot, type TrainResult } from "ringbook";

const cluster = await launchCluster({ workers });
cluster.describe()

// %% [markdown]
// ## Run the sweep
// Each run shows its own live plot. The model function travels to the workers as source text,
// so it is defined once and reused.

// %%
const mlp = ({ tf }: { tf: typeof import("@tensorflow/tfjs") }) =>
  tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 128, activation: "relu" }),
      tf.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });
const runs: Array<{ learningRate: number; result: TrainResult }> = [];
for (const learningRate of learningRates) {
  const result = await cluster.train({
    model: mlp,
    data: { builtin: "mnist", split: "train" },
    optimizer: { name: optimizer, learningRate },
    batchSize,
    epochs: stepsPerRun > 0 ? 1 : epochs,
    stepsPerEpoch: stepsPerRun > 0 ? stepsPerRun : undefined,
    seed: 7,
    live: { title: `${optimizer}, learning rate ${learningRate}` },
  });
  runs.push({ learningRate, result });
  console.log(`learning rate ${learningRate}: final loss ${result.finalLoss.toFixed(4)} after ${result.steps} steps`);
}

// %% [markdown]
// ## Loss curves side by side
// Smoothed over a few steps so that the trend is visible through batch-to-batch noise; log scale,
// since losses fall by orders of magnitude.

// %%
const smooth = (values: readonly number[], window = 5): number[] =>
  values.map((_, i) => {
    const part = values.slice(Math.max(0, i - window + 1), i + 1);
    return part.reduce((a, b) => a + b, 0) / part.length;
  });
display.plotly(
  linePlot(
    runs.map(({ learningRate, result }) => ({ name: `lr ${learningRate}`, x: result.history.columns.step, y: smooth(result.history.columns.loss) })),
    { title: `Loss by learning rate (${optimizer}, batch ${batchSize})`, xTitle: "step", yTitle: "loss (smoothed)", logY: true },
  ),
);
const tail = (values: readonly number[]): number => {
  const last = values.slice(-5);
  return last.reduce((a, b) => a + b, 0) / last.length;
};
const best = runs.reduce((a, b) => (tail(b.result.history.columns.loss) < tail(a.result.history.columns.loss) ? b : a));
display.markdown(
  ["| learning rate | loss, first step | loss, last 5 steps |", "|---|---|---|"]
    .concat(runs.map(({ learningRate, result }) => `| ${learningRate}${learningRate === best.learningRate ? " (best)" : ""} | ${result.history.columns.loss[0]!.toFixed(4)} | ${tail(result.history.columns.loss).toFixed(4)} |`))
    .join("\n"),
);

// %% [markdown]
// ## Summary and clean-up

// %%
console.log(JSON.stringify({
  template: "hyperparameter-sweep",
  bestLearningRate: best.learningRate,
  runs: runs.map(({ learningRate, result }) => ({ learningRate, steps: result.history.length, firstLoss: result.history.columns.loss[0], finalLoss: tail(result.history.columns.loss) })),
}));
await cluster.close();
