import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { exportTrainedModel } from "../../lib/training/worker-train.js";
import { parseTrainOptions, type TrainOptions } from "../../lib/training/train-spec.js";
import { trainInProcess } from "./train-in-process.js";

await tf.setBackend("cpu");


const mlp = () =>
  tf.sequential({ layers: [tf.layers.dense({ inputShape: [10], units: 16, activation: "relu" }), tf.layers.dense({ units: 3, activation: "softmax" })] });

test("options are checked before any worker computes, with the bad value in the message", () => {
  const base: TrainOptions = { model: mlp, data: { builtin: "synthetic" }, batchSize: 8 };
  assert.throws(() => parseTrainOptions({ ...base, batchSize: 10 }, 4), /batchSize 10 is not divisible by the 4 workers; use a multiple of 4, e.g. 12/);
  assert.throws(() => parseTrainOptions({ ...base, optimizer: { name: "adamw" } }, 2), /unknown optimizer .*adamw/);
  assert.throws(() => parseTrainOptions({ ...base, loss: "hinge" }, 2), /unknown loss "hinge"/);
  assert.throws(() => parseTrainOptions({ ...base, data: { builtin: "imagenet" } }, 2), /unknown built-in data set "imagenet"/);
  assert.throws(() => parseTrainOptions({ ...base, epochs: 0 }, 2), /epochs must be a positive integer, got 0/);
});

test("ranks train from rank 0's weights, stream step records and agree on the loss", async () => {
  const { results, events } = await trainInProcess(2, {
    model: mlp,
    data: { builtin: "synthetic", size: 64, features: 10, classes: 3 },
    batchSize: 16,
    epochs: 2,
    metricsIntervalMs: 10_000,
  });
  for (const result of results) assert.equal(result.status, "fulfilled", String((result as PromiseRejectedResult).reason));
  const steps = events.flatMap((e) => (e.kind === "steps" ? e.records : []));
  assert.equal(steps.length, 2 * 8, "8 steps × 2 ranks, flushed at the end");
  assert.deepEqual(events.filter((e) => e.kind === "ready").map((e) => e.kind === "ready" && e.parameterCount), [10 * 16 + 16 + 16 * 3 + 3, 10 * 16 + 16 + 16 * 3 + 3]);
  const exported = await exportTrainedModel();
  assert.equal(exported.kind, "layers");
  if (exported.kind === "layers") {
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: exported.modelTopology, weightSpecs: exported.weightSpecs, weightData: exported.weightData }));
    assert.equal(model.countParams(), 10 * 16 + 16 + 16 * 3 + 3);
    model.dispose();
  }
});

test("a model that fails to build on one rank fails every rank before any step", async () => {
  const { results, events } = await trainInProcess(2, {
    // Rank 1 builds a broken model; rank 0 a good one.
    model: ({ rank }: { rank: number }) => {
      if (rank === 1) throw new Error("no GPU memory for this layer");
      return tf.sequential({ layers: [tf.layers.dense({ inputShape: [10], units: 3, activation: "softmax" })] });
    },
    data: { builtin: "synthetic", size: 32, features: 10, classes: 3 },
    batchSize: 8,
  });
  const reasons = results.map((r) => (r.status === "rejected" ? String(r.reason) : "fulfilled"));
  assert.match(reasons[0]!, /rank 0: training did not start because rank\(s\) 1 could not build the model or data/);
  assert.match(reasons[1]!, /rank 1: the model or data did not build: Error: no GPU memory for this layer/);
  assert.equal(events.length, 0, "no rank became ready");
});
