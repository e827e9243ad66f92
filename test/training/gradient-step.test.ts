import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { dataParallelStep } from "../../lib/training/gradient-step.js";
import { GradientExchange } from "../../lib/training/gradient-exchange.js";
import { planEpoch, shardOf } from "../../lib/training/shard-plan.js";
import { toTrainable } from "../../lib/training/trainable.js";
import { createOptimizer } from "../../lib/training/optimizers.js";
import { withSeededMathRandom } from "../../lib/data/seeded-random.js";
import { syntheticClassification } from "../../lib/data/synthetic.js";
import { InProcessAllReduce } from "./in-process-all-reduce.js";

await tf.setBackend("cpu");

// Float32 sums in a different order differ in the last bits; a few steps of Adam stay well inside this.
const weightTolerance = 2e-5;

function buildMlp(seed: number): tf.LayersModel {
  return withSeededMathRandom(seed, () =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [12], units: 16, activation: "relu", kernelRegularizer: tf.regularizers.l2({ l2: 1e-3 }) }),
        tf.layers.dense({ units: 4, activation: "softmax" }),
      ],
    }),
  );
}

function buildCnn(seed: number): tf.LayersModel {
  return withSeededMathRandom(seed, () =>
    tf.sequential({
      layers: [
        tf.layers.reshape({ inputShape: [12], targetShape: [4, 3, 1] }),
        tf.layers.conv2d({ filters: 3, kernelSize: 2, activation: "relu", padding: "same" }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4, activation: "softmax" }),
      ],
    }),
  );
}

/** Plain tfjs on the whole global batch: the oracle. */
function trainSingleProcess(build: (seed: number) => tf.LayersModel, datasetSize: number, batchSize: number, epochs: number): Float32Array[] {
  const data = syntheticClassification({ size: datasetSize, features: 12, classes: 4, seed: 3 });
  const model = build(11);
  const trainable = toTrainable(model, "categoricalCrossentropy");
  const optimizer = createOptimizer({ name: "adam", learningRate: 0.01 });
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const batch of planEpoch({ datasetSize, batchSize, seed: 5, epoch })) {
      const { xs, ys } = data.batch(batch.indices);
      optimizer.minimize(() => trainable.loss(xs, ys), false, trainable.variables as tf.Variable[]);
      tf.dispose([xs, ys]);
    }
  }
  const weights = trainable.variables.map((v) => v.dataSync() as Float32Array);
  model.dispose();
  optimizer.dispose();
  return weights;
}

async function trainDataParallel(
  build: (seed: number) => tf.LayersModel,
  worldSize: number,
  datasetSize: number,
  batchSize: number,
  epochs: number,
): Promise<{ weights: Float32Array[][]; losses: number[] }> {
  const data = syntheticClassification({ size: datasetSize, features: 12, classes: 4, seed: 3 });
  const allReduce = new InProcessAllReduce(worldSize);
  const ranks = Array.from({ length: worldSize }, (_, rank) => {
    const model = build(11);
    const trainable = toTrainable(model, "categoricalCrossentropy");
    return { rank, model, trainable, exchange: new GradientExchange(trainable.variables), optimizer: createOptimizer({ name: "adam", learningRate: 0.01 }) };
  });
  const losses: number[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const batch of planEpoch({ datasetSize, batchSize, seed: 5, epoch })) {
      const outcomes = await Promise.all(
        ranks.map(async ({ rank, trainable, exchange, optimizer }) => {
          const { xs, ys } = data.batch(shardOf(batch.indices, rank, worldSize));
          try {
            return await dataParallelStep({ trainable, exchange, optimizer, xs, ys, globalSamples: batch.indices.length, allReduceSum: allReduce.forRank(rank) });
          } finally {
            tf.dispose([xs, ys]);
          }
        }),
      );
      const first = outcomes[0]!;
      for (const outcome of outcomes) assert.equal(outcome.globalLoss, first.globalLoss, "every rank sees the same global loss");
      losses.push(first.globalLoss);
    }
  }
  const weights = ranks.map(({ trainable }) => trainable.variables.map((v) => v.dataSync() as Float32Array));
  for (const { model, optimizer } of ranks) {
    model.dispose();
    optimizer.dispose();
  }
  return { weights, losses };
}

function maxAbsDifference(a: Float32Array[], b: Float32Array[]): number {
  let max = 0;
  a.forEach((values, i) => values.forEach((value, j) => (max = Math.max(max, Math.abs(value - b[i]![j]!)))));
  return max;
}

for (const [modelName, build] of [["MLP", buildMlp], ["CNN", buildCnn]] as const) {
  for (const worldSize of [2, 4]) {
    test(`${modelName}: ${worldSize}-rank data parallel equals single-process training on the same global batches`, async () => {
      // 100 samples, batch 32: three full batches and an uneven last batch of 4 each epoch.
      const oracle = trainSingleProcess(build, 100, 32, 2);
      const { weights, losses } = await trainDataParallel(build, worldSize, 100, 32, 2);
      for (const rankWeights of weights) {
        assert.deepEqual(rankWeights, weights[0], "ranks hold bitwise identical weights");
      }
      const difference = maxAbsDifference(weights[0]!, oracle);
      assert.ok(difference < weightTolerance, `max |w_dp - w_single| = ${difference}, tolerance ${weightTolerance}`);
      assert.ok(losses.at(-1)! < losses[0]!, `loss fell: ${losses[0]} → ${losses.at(-1)}`);
    });
  }
}

test("a last batch smaller than the world size leaves some ranks without samples and still matches", async () => {
  // 66 samples, batch 32: the last batch has 2 samples for 4 ranks.
  const oracle = trainSingleProcess(buildMlp, 66, 32, 1);
  const { weights } = await trainDataParallel(buildMlp, 4, 66, 32, 1);
  const difference = maxAbsDifference(weights[0]!, oracle);
  assert.ok(difference < weightTolerance, `max |w_dp - w_single| = ${difference}`);
});

test("one rank reproduces single-process training exactly", async () => {
  const oracle = trainSingleProcess(buildMlp, 100, 32, 1);
  const { weights } = await trainDataParallel(buildMlp, 1, 100, 32, 1);
  assert.deepEqual(weights[0], oracle);
});

test("the same seed gives the same weights twice", async () => {
  const first = await trainDataParallel(buildMlp, 2, 64, 16, 1);
  const second = await trainDataParallel(buildMlp, 2, 64, 16, 1);
  assert.deepEqual(first.weights, second.weights);
});

test("training steps leak no tensors", async () => {
  await trainDataParallel(buildMlp, 2, 64, 16, 1); // warm-up creates lasting optimizer-independent state
  const before = tf.memory().numTensors;
  await trainDataParallel(buildMlp, 2, 256, 16, 3);
  assert.equal(tf.memory().numTensors, before);
});
