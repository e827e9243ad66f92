import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { streamTrainingData } from "../../lib/training/stream-data.js";
import { indexedTrainingData, type TrainingData } from "../../lib/training/training-data.js";
import { TensorDataset } from "../../lib/data/tensor-dataset.js";
import type { TrainingSchedule } from "../../lib/training/rank-loop.js";

await tf.setBackend("cpu");

/** Element i: xs [i, -i], ys i. */
const elements = (count: number) => tf.data.array(Array.from({ length: count }, (_, i) => ({ xs: [i, -i], ys: i })));

/** Each batch of an epoch as this rank sees it: the first input value of its samples, and the global size. */
async function readEpoch(data: TrainingData, epoch: number, startStep = 0): Promise<Array<{ samples: number[]; global: number }>> {
  const batches = data.openEpoch(epoch, startStep);
  const seen: Array<{ samples: number[]; global: number }> = [];
  for (let batch = await batches.next(); batch !== undefined; batch = await batches.next()) {
    const xs = batch.xs as tf.Tensor;
    assert.equal(xs.shape[0], batch.samples);
    seen.push({ samples: tf.tidy(() => Array.from(xs.slice([0, 0], [batch.samples, 1]).dataSync())), global: batch.globalSamples });
    tf.dispose([xs, batch.ys as tf.Tensor]);
  }
  return seen;
}

test("every rank keeps its contiguous part of each global batch of the stream, as in-memory data read in order", async () => {
  const schedule: TrainingSchedule = { batchSize: 4, epochs: 1, seed: 0 };
  const inMemory = new TensorDataset({ xs: Array.from({ length: 10 }, (_, i) => [i, -i]), ys: Array.from({ length: 10 }, (_, i) => i) });
  for (const worldSize of [1, 2, 4]) {
    for (let rank = 0; rank < worldSize; rank++) {
      const stream = await readEpoch(streamTrainingData(elements(10), { rank, worldSize, schedule }), 0);
      const indexed = await readEpoch(indexedTrainingData(inMemory, { rank, worldSize, schedule: { ...schedule, shuffle: false } }), 0);
      assert.deepEqual(stream, indexed, `rank ${rank} of ${worldSize}`);
    }
  }
  // 10 = 4 + 4 + 2: with 4 ranks, ranks 2 and 3 get nothing of the last batch.
  const lastOfRank3 = (await readEpoch(streamTrainingData(elements(10), { rank: 3, worldSize: 4, schedule }), 0)).at(-1);
  assert.deepEqual(lastOfRank3, { samples: [], global: 2 });
});

test("resuming mid-epoch skips the batches before the start step; dropRemainder drops the short last batch", async () => {
  const schedule: TrainingSchedule = { batchSize: 4, epochs: 1, seed: 0 };
  assert.deepEqual(await readEpoch(streamTrainingData(elements(10), { rank: 0, worldSize: 1, schedule }), 0, 2), [{ samples: [8, 9], global: 2 }]);
  const dropping = await readEpoch(streamTrainingData(elements(10), { rank: 0, worldSize: 1, schedule: { ...schedule, dropRemainder: true } }), 0);
  assert.deepEqual(dropping.map((b) => b.global), [4, 4]);
});

test("an endless stream needs stepsPerEpoch and is read on across epochs; a finite one starts again each epoch", async () => {
  const schedule: TrainingSchedule = { batchSize: 2, epochs: 2, seed: 0, stepsPerEpoch: 2 };
  assert.throws(() => streamTrainingData(elements(3).repeat(), { rank: 0, worldSize: 1, schedule: { batchSize: 2, epochs: 1, seed: 0 } }), /endless .*give stepsPerEpoch/);
  const endless = streamTrainingData(elements(3).repeat(), { rank: 0, worldSize: 1, schedule });
  assert.deepEqual((await readEpoch(endless, 0)).map((b) => b.samples), [[0, 1], [2, 0]]);
  assert.deepEqual((await readEpoch(endless, 1)).map((b) => b.samples), [[1, 2], [0, 1]]);
  const finite = streamTrainingData(elements(5), { rank: 0, worldSize: 1, schedule });
  assert.deepEqual((await readEpoch(finite, 0)).map((b) => b.samples), [[0, 1], [2, 3]]);
  assert.deepEqual((await readEpoch(finite, 1)).map((b) => b.samples), [[0, 1], [2, 3]]);
});

test("elements that are not { xs, ys } samples of one layout are refused, naming the element", async () => {
  const schedule: TrainingSchedule = { batchSize: 4, epochs: 1, seed: 0 };
  const pairs = streamTrainingData(tf.data.array([{ x: [1], y: 1 }]), { rank: 0, worldSize: 1, schedule });
  await assert.rejects(pairs.openEpoch(0, 0).next(), /element 0 of the tf.data.Dataset \(epoch 1\) is an object with keys x, y; ringbook trains on elements \{ xs, ys \}/);
  const ragged = streamTrainingData(tf.data.array([{ xs: [1, 2], ys: 1 }, { xs: [1], ys: 1 }]), { rank: 0, worldSize: 1, schedule });
  await assert.rejects(ragged.openEpoch(0, 0).next(), /element 1 of the tf.data.Dataset \(epoch 1\) has xs float32 \[1\], ys float32 \[\] where element 0 has xs float32 \[2\], ys float32 \[\]/);
});
