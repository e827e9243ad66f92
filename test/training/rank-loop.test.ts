import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { trainOnRank, type StepRecord, type TrainingSchedule } from "../../lib/training/rank-loop.js";
import { loadCheckpoint, loadLayersModelFromDir, type TrainingPosition } from "../../lib/training/checkpoint.js";
import { toTrainable } from "../../lib/training/trainable.js";
import { createOptimizer } from "../../lib/training/optimizers.js";
import { withSeededMathRandom } from "../../lib/data/seeded-random.js";
import { syntheticClassification } from "../../lib/data/synthetic.js";
import { indexedTrainingData } from "../../lib/training/training-data.js";
import { InProcessAllReduce } from "./in-process-all-reduce.js";

await tf.setBackend("cpu");

const dataset = syntheticClassification({ size: 96, features: 8, classes: 3, seed: 2 });

function buildRank() {
  const model = withSeededMathRandom(4, () =>
    tf.sequential({ layers: [tf.layers.dense({ inputShape: [8], units: 8, activation: "relu" }), tf.layers.dense({ units: 3, activation: "softmax" })] }),
  );
  const trainable = toTrainable(model, "categoricalCrossentropy");
  return { model, trainable, optimizer: createOptimizer({ name: "adam", learningRate: 0.02 }) };
}

async function runRanks(options: {
  worldSize: number;
  schedule: TrainingSchedule;
  stopAt?: { rank: number; step: number };
  resumeFrom?: string;
}): Promise<{ weights: Float32Array[][]; records: StepRecord[]; results: Array<{ position: TrainingPosition; stopped: boolean }> }> {
  const allReduce = new InProcessAllReduce(options.worldSize);
  const records: StepRecord[] = [];
  const ranks = Array.from({ length: options.worldSize }, buildRank);
  const results = await Promise.all(
    ranks.map(async ({ model, trainable, optimizer }, rank) => {
      const start = options.resumeFrom === undefined ? undefined : await loadCheckpoint({ dir: options.resumeFrom, variables: trainable.variables, optimizer });
      let stepsDone = 0;
      return trainOnRank({
        rank,
        worldSize: options.worldSize,
        model,
        trainable,
        optimizer,
        data: indexedTrainingData(dataset, { rank, worldSize: options.worldSize, schedule: options.schedule }),
        schedule: options.schedule,
        allReduceSum: allReduce.forRank(rank),
        ...(start === undefined ? {} : { start }),
        shouldStop: () => options.stopAt !== undefined && options.stopAt.rank === rank && stepsDone + 1 >= options.stopAt.step,
        onStep: (record) => {
          stepsDone++;
          records.push(record);
        },
      });
    }),
  );
  const weights = ranks.map(({ trainable }) => trainable.variables.map((v) => v.dataSync() as Float32Array));
  for (const { model, optimizer } of ranks) {
    model.dispose();
    optimizer.dispose();
  }
  return { weights, records, results };
}

test("a stop requested on one rank stops every rank after the same step with identical weights", async () => {
  const { weights, records, results } = await runRanks({ worldSize: 3, schedule: { batchSize: 12, epochs: 5, seed: 1 }, stopAt: { rank: 1, step: 3 } });
  for (const result of results) assert.deepEqual(result, { position: { epoch: 0, stepInEpoch: 3, globalStep: 3 }, stopped: true, earlyStopped: false });
  for (const rankWeights of weights) assert.deepEqual(rankWeights, weights[0]);
  assert.equal(records.length, 9, "3 steps × 3 ranks");
  assert.ok(records.every((r) => r.computeMs >= 0 && r.communicationMs >= 0 && r.applyMs >= 0 && r.stepMs >= r.computeMs));
});

test("resuming from a checkpoint continues exactly where an uninterrupted run would be", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ringbook-ckpt-"));
  try {
    const checkpoint = join(dir, "ckpt");
    const straight = await runRanks({ worldSize: 2, schedule: { batchSize: 16, epochs: 3, seed: 9 } });
    const firstHalf = await runRanks({ worldSize: 2, schedule: { batchSize: 16, epochs: 3, seed: 9, checkpoint: { dir: checkpoint, everySteps: 100 } }, stopAt: { rank: 0, step: 8 } });
    assert.deepEqual(firstHalf.results[0]!.position, { epoch: 1, stepInEpoch: 2, globalStep: 8 });
    assert.ok((await readdir(checkpoint)).includes("model.json"));
    const resumed = await runRanks({ worldSize: 2, schedule: { batchSize: 16, epochs: 3, seed: 9 }, resumeFrom: checkpoint });
    assert.equal(resumed.records.at(-1)!.step, 18);
    assert.deepEqual(resumed.weights[0], straight.weights[0]);
    const restored = await loadLayersModelFromDir(checkpoint);
    assert.equal(restored.countParams(), 8 * 8 + 8 + 8 * 3 + 3);
    restored.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
