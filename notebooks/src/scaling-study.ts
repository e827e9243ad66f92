// %% [markdown]
// # Scaling study: throughput with 1, 2 and 4 workers
// The same model and global batch, trained for a fixed number of steps on a cluster that is
// resized between runs (`cluster.resize(n)` starts or stops workers; the others stay warm).
// Each run reports samples per second; the chart compares them with ideal linear scaling.
//
// What to expect: data parallelism pays while each worker has a core (or GPU) of its own and the
// per-step all-reduce is small next to the compute. With more workers than cores, they share
// cores and throughput flattens or drops; with small models, communication dominates. On a
// 2-core machine two compute processes reach only about 1.3× one.
//
// Headless: `npx ringbook run notebooks/scaling-study.ipynb -p workerCounts "[1, 2]" -p steps 20`.

// %% parameters
const workerCounts = [1, 2, 4]; // cluster sizes to measure, in order
const steps = 60; // training steps per cluster size
const warmupSteps = 5; // first steps left out of the throughput (compilation, caches)
const batchSize = 512; // global batch: must be divisible by every worker count
const hiddenUnits = 256;

// %%
import { launchCluster, linePlot } from "ringbook";

const cluster = await launchCluster({ workers: workerCounts[0]! });
cluster.describe()

// %% [markdown]
// ## Measure
// For every cluster size: resize, train `steps` steps on synthetic data (so no time goes to data
// loading), and keep the median throughput of the steps after the warm-up.

// %%
interface Measurement {
  workers: number;
  samplesPerSecond: number;
  msPerStep: number;
  communicationMs: number;
  finalLoss: number;
  firstLoss: number;
}
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const measurements: Measurement[] = [];
for (const workers of workerCounts) {
  await cluster.resize(workers);
  const result = await cluster.train({
    model: ({ tf, args }: { tf: typeof import("@tensorflow/tfjs"); args: { hiddenUnits: number } }) =>
      tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [784], units: args.hiddenUnits, activation: "relu" }),
          tf.layers.dense({ units: args.hiddenUnits, activation: "relu" }),
          tf.layers.dense({ units: 10, activation: "softmax" }),
        ],
      }),
    args: { hiddenUnits },
    data: { builtin: "synthetic", size: batchSize * steps, features: 784, classes: 10, seed: 1 },
    optimizer: { name: "adam", learningRate: 0.001 },
    batchSize,
    epochs: 1,
    stepsPerEpoch: steps,
    seed: 1,
    live: { title: `${workers} worker(s)` },
  });
  const c = result.history.columns;
  const measured = (column: number[]): number => median(column.slice(Math.min(warmupSteps, column.length - 1)));
  measurements.push({
    workers,
    samplesPerSecond: Math.round(measured(c.samplesPerSecond)),
    msPerStep: Math.round(batchSize / measured(c.samplesPerSecond) * 1000 * 10) / 10,
    communicationMs: Math.round(measured(c.communicationMs) * 10) / 10,
    firstLoss: c.loss[0]!,
    finalLoss: result.finalLoss,
  });
  console.log(`${workers} worker(s): ${Math.round(measured(c.samplesPerSecond))} samples/s`);
}

// %% [markdown]
// ## Throughput per cluster size
// Measured samples per second against the ideal: the one-worker throughput times the number of
// workers.

// %%
const base = measurements[0]!;
display.plotly(
  linePlot(
    [
      { name: "measured", x: measurements.map((m) => m.workers), y: measurements.map((m) => m.samplesPerSecond) },
      { name: "ideal (linear)", x: measurements.map((m) => m.workers), y: measurements.map((m) => (base.samplesPerSecond * m.workers) / base.workers) },
    ],
    { title: "Training throughput", xTitle: "workers", yTitle: "samples/s", mode: "lines+markers" },
  ),
);
display.markdown(
  ["| workers | samples/s | speed-up | ms/step | all-reduce ms/step |", "|---|---|---|---|---|"]
    .concat(measurements.map((m) => `| ${m.workers} | ${m.samplesPerSecond} | ${(m.samplesPerSecond / base.samplesPerSecond).toFixed(2)}× | ${m.msPerStep} | ${m.communicationMs} |`))
    .join("\n"),
);

// %% [markdown]
// ## Summary and clean-up

// %%
console.log(JSON.stringify({ template: "scaling-study", measurements }));
await cluster.close();
