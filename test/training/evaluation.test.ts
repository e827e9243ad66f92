/**
 * Evaluating a classifier trained with `sparseCategoricalCrossentropy` on int32 class indices:
 * `cluster.evaluate`'s worker side on 2 ranks (in this process, the all-reduce faked at its seam)
 * with int32 labels in every form, and the `steps` bound for an endless stream; the model handed
 * back (`run.trainedModel()`, as `cluster.model()`) and the one `loadModel` reads, whose
 * `evaluate` and `fit` take int32 targets although tfjs's own sparse loss refuses them. The
 * oracle is the run's last validation (the same data and final weights).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { trainSingleProcess } from "../../lib/training/train-single-process.js";
import { parseEvaluateOptions, type TrainContext, type TrainOptions } from "../../lib/training/train-spec.js";
import { evaluateOnWorker } from "../../lib/training/worker-evaluate.js";
import { loadModel, saveModel } from "../../lib/io/save-model.js";
import { classifier, features, labels } from "./data-form-cases.js";
import { InProcessAllReduce } from "./in-process-all-reduce.js";
import { assertAllTrained, trainInProcess } from "./train-in-process.js";

await tf.setBackend("cpu");

const options: TrainOptions = {
  model: classifier,
  data: { xs: features, ys: Int32Array.from(labels) },
  loss: "sparseCategoricalCrossentropy",
  metrics: ["accuracy", "sparseCategoricalAccuracy"],
  validationData: { xs: features, ys: Int32Array.from(labels) },
  optimizer: { name: "adam", learningRate: 0.05 },
  batchSize: 8,
  epochs: 2,
  seed: 4,
};

/** `cluster.evaluate(data, evaluateOptions)` as the workers run it, on `worldSize` ranks in this process. */
async function evaluateInProcess(worldSize: number, data: unknown, evaluateOptions: Record<string, unknown>): Promise<Array<PromiseSettledResult<Record<string, number>>>> {
  const spec = parseEvaluateOptions(data, evaluateOptions, worldSize, { metrics: [{ name: "accuracy" }, { name: "sparseCategoricalAccuracy" }], args: undefined });
  const allReduce = new InProcessAllReduce(worldSize);
  return Promise.allSettled(Array.from({ length: worldSize }, (_, rank) => evaluateOnWorker({ rank, worldSize, allReduceSum: allReduce.forRank(rank) }, spec)));
}

function assertLogsClose(actual: Record<string, number> | undefined, expected: Record<string, number>, tolerance: number, what: string): void {
  assert.ok(actual !== undefined, `${what}: no logs`);
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what}: log names`);
  for (const [name, value] of Object.entries(expected)) assert.ok(Math.abs(actual[name]! - value) <= tolerance, `${what}: ${name} ${actual[name]} vs ${value}`);
}

const args = { features, labels };
const labelForms: Array<{ name: string; data: unknown }> = [
  { name: "int32 arrays", data: { xs: features, ys: Int32Array.from(labels) } },
  { name: "a data function's int32 tensor [n]", data: ({ tf: t, args: a }: TrainContext<typeof args>) => ({ xs: t.tensor2d(a.features), ys: t.tensor1d(a.labels, "int32") }) },
  { name: "a data function's int32 tensor [n, 1]", data: ({ tf: t, args: a }: TrainContext<typeof args>) => ({ xs: t.tensor2d(a.features), ys: t.tensor2d(a.labels.map((l) => [l]), [a.labels.length, 1], "int32") }) },
  {
    name: "a tf.data.Dataset of int32 scalars",
    data: ({ tf: t, args: a }: TrainContext<typeof args>) => t.data.zip({ xs: t.data.array(a.features.map((x) => t.tensor1d(x))), ys: t.data.array(a.labels.map((l) => t.scalar(l, "int32"))) }),
  },
];

test("cluster.evaluate with sparseCategoricalCrossentropy and int32 labels in every form, on 2 ranks, gives the run's last validation logs", async () => {
  const run = await trainInProcess(2, options);
  assertAllTrained(run);
  const last = run.events.flatMap((e) => (e.kind === "epochs" ? e.records : [])).at(-1)!.logs;
  const expected = { loss: last.val_loss!, accuracy: last.val_accuracy!, sparseCategoricalAccuracy: last.val_sparseCategoricalAccuracy! };
  for (const { name, data } of labelForms) {
    const results = await evaluateInProcess(2, data, { batchSize: 8, args });
    for (const [rank, result] of results.entries()) {
      assert.equal(result.status, "fulfilled", `${name}, rank ${rank}: ${String((result as PromiseRejectedResult).reason)}`);
      if (result.status === "fulfilled") assertLogsClose(result.value, expected, 1e-6, `${name}, rank ${rank}`);
    }
  }
});

test("cluster.evaluate's steps bounds an endless stream (from its start) and evaluates only the first batches of finite data; without it an endless stream is refused, saying to give steps", async () => {
  const alone = await trainInProcess(2, options);
  assertAllTrained(alone);
  const firstSixteen = await evaluateInProcess(2, { xs: features.slice(0, 16), ys: Int32Array.from(labels.slice(0, 16)) }, { batchSize: 8 });
  assert.equal(firstSixteen[0]!.status, "fulfilled");
  const expected = (firstSixteen[0] as PromiseFulfilledResult<Record<string, number>>).value;
  const endless = ({ tf: t, args: a }: TrainContext<typeof args>) => t.data.zip({ xs: t.data.array(a.features), ys: t.data.array(a.labels) }).repeat();
  for (const data of [endless, { xs: features, ys: Int32Array.from(labels) }]) {
    for (const result of await evaluateInProcess(2, data, { batchSize: 8, steps: 2, args })) {
      assert.equal(result.status, "fulfilled", String((result as PromiseRejectedResult).reason));
      if (result.status === "fulfilled") assertLogsClose(result.value, expected, 1e-6, "steps: 2");
    }
  }
  for (const result of await evaluateInProcess(2, endless, { batchSize: 8, args })) {
    assert.equal(result.status, "rejected");
    if (result.status === "rejected") assert.match(String(result.reason), /the evaluation tf.data.Dataset is endless \(size Infinity, e.g. after .repeat\(\)\): give steps, the number of batches to evaluate/);
  }
  assert.throws(() => parseEvaluateOptions(endless, { steps: 1.5 }, 2, { metrics: [], args: undefined }), /evaluate: steps must be a positive integer \(batches to evaluate in each pass\), got 1.5/);
  assert.throws(() => parseEvaluateOptions(endless, { step: 2 }, 2, { metrics: [], args: undefined }), /unknown option `evaluate.step`; did you mean `evaluate.steps`\?/);
});

test("the trained model, and the one loadModel reads back, evaluate and fit with int32 class indices ([n] and [n, 1]) as with float ones; the casts leak no tensors", async () => {
  // Named metrics only: a function metric (sparseCategoricalAccuracy is compiled as one) keeps saveModel from writing the training configuration.
  const run = await trainSingleProcess({ ...options, metrics: ["accuracy"] });
  const last = run.epochs.at(-1)!.logs;
  const dir = await mkdtemp(join(tmpdir(), "ringbook-int-targets-"));
  const xs = tf.tensor2d(features);
  const targets = [tf.tensor1d(labels, "int32"), tf.tensor2d(labels.map((l) => [l]), [labels.length, 1], "int32"), tf.tensor1d(labels, "float32")];
  try {
    const trained = await run.trainedModel();
    assert.ok(trained instanceof tf.LayersModel);
    await saveModel(trained, join(dir, "model"));
    const loaded = await loadModel(join(dir, "model"));
    for (const [which, model] of [["trained", trained], ["loaded", loaded]] as const) {
      for (const ys of targets) {
        const before = tf.memory().numTensors;
        const evaluated = model.evaluate(xs, ys, { batchSize: 8 }) as tf.Scalar[];
        const [loss, accuracy] = evaluated.map((t) => t.dataSync()[0]!);
        tf.dispose(evaluated);
        assert.equal(tf.memory().numTensors, before, `${which}, ${ys.dtype} [${ys.shape.join(", ")}]: no tensor left`);
        const what = `${which} model, ${ys.dtype} targets [${ys.shape.join(", ")}]`;
        assert.ok(Math.abs(loss! - last.val_loss!) < 1e-5, `${what}: loss ${loss} vs val_loss ${last.val_loss}`);
        assert.ok(Math.abs(accuracy! - last.val_accuracy!) < 1e-6, `${what}: accuracy ${accuracy} vs ${last.val_accuracy}`);
      }
    }
    // fit continues with int32 targets exactly as with float ones (two copies of the same weights).
    const again = await run.trainedModel();
    try {
      const withInts = await trained.fit(xs, targets[0]!, { batchSize: 8, epochs: 1, shuffle: false, verbose: 0 });
      const withFloats = await (again as tf.LayersModel).fit(xs, targets[2]!, { batchSize: 8, epochs: 1, shuffle: false, verbose: 0 });
      assert.equal(withInts.history.loss![0], withFloats.history.loss![0]);
      const [intBatch] = (await loaded.trainOnBatch(xs, targets[1]!)) as number[];
      assert.ok(Number.isFinite(intBatch), `trainOnBatch with int32 targets: ${intBatch}`);
    } finally {
      again.dispose();
    }
    trained.dispose();
    loaded.dispose();
  } finally {
    tf.dispose([xs, ...targets]);
    await rm(dir, { recursive: true, force: true });
  }
});
