/**
 * Errors that say what to fix, before any rank computes: one test per message. Option errors come
 * from parsing on the notebook's side; data and shape errors from the ranks' setup, where every
 * rank agrees (through the setup vote) before any step, so no rank becomes ready.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { RingbookError } from "../../lib/errors.js";
import { parseTrainOptions, type TrainContext, type TrainOptions } from "../../lib/training/train-spec.js";
import { trainInProcess, type InProcessRun } from "./train-in-process.js";

await tf.setBackend("cpu");

const model = ({ tf: t }: TrainContext) => t.sequential({ layers: [t.layers.dense({ inputShape: [4], units: 1 })] });
const xs = Array.from({ length: 12 }, (_, i) => [i, i + 1, i + 2, i + 3].map((v) => v / 10));
const base: TrainOptions = { model, data: { xs, ys: xs.map((row) => row[0]!) }, loss: "meanSquaredError", batchSize: 4, optimizer: "sgd" };

/** Asserts that parsing `options` throws a RingbookError whose message matches `message`. */
function refused(options: unknown, message: RegExp, code?: string): void {
  assert.throws(
    () => parseTrainOptions(options, 2),
    (error: unknown) => {
      assert.ok(error instanceof RingbookError, String(error));
      assert.match(error.message, message);
      if (code !== undefined) assert.equal(error.code, code);
      return true;
    },
  );
}

/** Asserts that every rank failed before any step, naming the reason (the ranks that met it) or the ranks that failed. */
function failedBeforeTraining(run: InProcessRun, message: RegExp): void {
  const reasons = run.results.map((r) => (r.status === "rejected" ? String(r.reason) : "fulfilled"));
  assert.ok(reasons.every((reason) => reason !== "fulfilled"), `every rank fails: ${reasons.join(" | ")}`);
  assert.ok(reasons.some((reason) => message.test(reason)), `${message} in ${reasons.join(" | ")}`);
  assert.ok(reasons.every((reason) => /the model or data did not build|could not build the model or data/.test(reason)), reasons.join(" | "));
  assert.deepEqual(run.events, [], "no rank became ready, no step ran");
}

test("an unknown option is refused with the closest known name", () => {
  refused({ ...base, epoch: 3 }, /^unknown option `epoch`; did you mean `epochs`\?$/, "ERR_UNKNOWN_OPTION");
  refused({ ...base, batch_size: 4 }, /unknown option `batch_size`; did you mean `batchSize`\?/);
  refused({ ...base, validationSplitFraction: 0.1 }, /unknown option `validationSplitFraction`; the options are model, data, loss, .*metricsIntervalMs/);
});

test("unknown names inside checkpoint, live, optimizer and a built-in data set are refused the same way", () => {
  refused({ ...base, checkpoint: { dir: "/tmp/x", everyStep: 5 } }, /unknown option `checkpoint.everyStep`; did you mean `checkpoint.everySteps`\?/);
  refused({ ...base, live: { titel: "run" } }, /unknown option `live.titel`; did you mean `live.title`\?/);
  refused({ ...base, optimizer: { name: "adam", learning_rate: 0.1 } }, /optimizer adam: unknown option\(s\) learning_rate; did you mean `learningRate`\?/);
  refused({ ...base, optimizer: { name: "sgd", momentum: 0.9 } }, /optimizer sgd: unknown option\(s\) momentum \(`momentum` is an option of other optimizers\)/);
  refused({ ...base, data: { builtin: "synthetic", sizes: 10 } }, /unknown option `data \(synthetic\).sizes`; did you mean `data \(synthetic\).size`\?/);
  refused({ ...base, loss: "meanSquareError" }, /unknown loss "meanSquareError"; did you mean `meanSquaredError`\?/);
});

test("a tensor in args is refused on the owner with the reason", () => {
  const weights = tf.tensor1d([1, 2]);
  try {
    refused(
      { ...base, args: { scale: 2, weights } },
      /args.weights is a tf.Tensor float32 \[2\]: a tensor cannot travel to the workers \(a structured clone copies its fields, not its values.*Pass its values \(await x.array\(\)/,
      "ERR_ARGS_NOT_CLONEABLE",
    );
  } finally {
    weights.dispose();
  }
});

test("a function or another value that cannot be cloned in args is refused on the owner with the reason", () => {
  refused({ ...base, args: { scale: (x: number) => 2 * x } }, /args.scale is a function: functions do not travel in args/);
  refused({ ...base, args: { list: [1, Symbol("s")] } }, /args.list\[1\] is a symbol/);
  refused({ ...base, args: { pending: Promise.resolve(1) } }, /args cannot be sent to the workers: .*could not be cloned/);
});

test("data given as something else says what it got and lists the accepted forms", () => {
  refused({ ...base, data: [1, 2, 3] }, /^data is an array of 3 items; give a function .* Accepted: \{ xs, ys \} .*tf.data.Dataset of single samples .*TensorDataset.*builtin/);
  refused({ ...base, data: { xs } }, /data needs both xs \(the inputs\) and ys \(the targets\); it has only xs/);
  refused({ ...base, data: { xs, ys: xs, weights: xs } }, /unknown option `data.weights`/);
  refused({ ...base, data: tf.data.array([1]) }, /data is a tf.data.Dataset, which cannot travel to the workers .*return it from a data function/);
  refused({ ...base, data: { xs: [[1, 2], [3]], ys: [1, 2] } }, /data.xs\[1\] is an array of 1 item where data.xs\[0\] has 2 items: nested arrays must be rectangular/);
});

test("a data function that returns something else says what it got and lists the accepted forms", async () => {
  const run = await trainInProcess(2, { ...base, data: () => ({ x: [[1, 2, 3, 4]], y: [1] }) });
  failedBeforeTraining(run, /the data function returned an object with keys x, y; return one of: \{ xs, ys \} .*a tf.data.Dataset of single samples \{ xs, ys \} .*a ringbook Dataset .*builtin/);
});

test("a data function's { xs, ys } with other keys is refused: they would be ignored", async () => {
  const run = await trainInProcess(2, { ...base, data: () => ({ xs: [[1, 2, 3, 4]], ys: [1], sampleWeights: [1] }) });
  failedBeforeTraining(run, /the data function returned \{ xs, ys \} with sampleWeights besides; ringbook reads only xs \(the inputs\) and ys \(the targets\)/);
});

test("a function that uses a notebook variable says to pass it through args", async () => {
  const run = await trainInProcess(2, {
    ...base,
    // @ts-expect-error: `notebookTable` exists only in the notebook the function came from
    data: () => ({ xs: notebookTable.xs, ys: notebookTable.ys }),
  });
  failedBeforeTraining(run, /the data function uses `notebookTable`, which does not exist on the workers: functions travel to them as source text, without the notebook's variables. Pass the value in args .*args.notebookTable/);
});

test("a model or loss function that uses a notebook variable says to pass it through args", async () => {
  const modelRun = await trainInProcess(2, {
    ...base,
    // @ts-expect-error: `hiddenUnits` exists only in the notebook the function came from
    model: ({ tf: t }: TrainContext) => t.sequential({ layers: [t.layers.dense({ inputShape: [4], units: hiddenUnits })] }),
  });
  failedBeforeTraining(modelRun, /the model function uses `hiddenUnits`, which does not exist on the workers: .*Pass the value in args/);
  const lossRun = await trainInProcess(2, {
    ...base,
    // @ts-expect-error: `lossScale` exists only in the notebook the function came from
    loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.meanSquaredError(yTrue, yPred).mul(lossScale),
  });
  failedBeforeTraining(lossRun, /the loss function uses `lossScale`, which does not exist on the workers/);
});

test("targets of another shape than the model's output are refused, both shapes named", async () => {
  const run = await trainInProcess(2, { ...base, data: { xs, ys: xs.map((row) => [row[0]!, row[1]!]) } });
  failedBeforeTraining(run, /targets \[n, 2\] do not match the model's output \[n, 1\]/);
});

test("an output with fewer units than the targets' classes is refused before tfjs's broadcast error", async () => {
  const run = await trainInProcess(2, {
    model: ({ tf: t }: TrainContext) => t.sequential({ layers: [t.layers.dense({ inputShape: [4], units: 3, activation: "softmax" })] }),
    data: { xs, ys: xs.map((_, i) => Array.from({ length: 10 }, (_, c) => (c === i % 10 ? 1 : 0))) },
    batchSize: 4,
  });
  failedBeforeTraining(run, /model output has 3 units but targets have 10 classes \(targets \[n, 10\], output \[n, 3\]\)/);
});

test("sparse labels beyond the output's units are refused, naming the class", async () => {
  const run = await trainInProcess(2, {
    model: ({ tf: t }: TrainContext) => t.sequential({ layers: [t.layers.dense({ inputShape: [4], units: 3, activation: "softmax" })] }),
    data: { xs, ys: Int32Array.from(xs, (_, i) => i % 10) },
    loss: "sparseCategoricalCrossentropy",
    batchSize: 12,
    shuffle: false,
  });
  failedBeforeTraining(run, /model output has 3 units but targets hold class 9: give the last layer at least 10 units/);
});

test("inputs of another shape than the model's are refused, both shapes named", async () => {
  const run = await trainInProcess(2, { ...base, data: { xs: xs.map((row) => row.slice(0, 3)), ys: xs.map((row) => row[0]!) } });
  failedBeforeTraining(run, /inputs \[n, 3\] do not match the model's input \[n, 4\]/);
});

test("a batched tf.data.Dataset is refused with the hint to give it unbatched", async () => {
  const run = await trainInProcess(2, {
    ...base,
    args: { xs },
    data: ({ tf: t, args }: TrainContext) => t.data.zip({ xs: t.data.array(args.xs), ys: t.data.array(args.xs.map((row: number[]) => [row[0]])) }).batch(4),
  });
  failedBeforeTraining(run, /inputs \[n, 4, 4\] do not match the model's input \[n, 4\]: the tf.data.Dataset's elements look batched \(each holds 4 samples\); give it unbatched/);
});

test("shuffle: true with a tf.data.Dataset is refused: ringbook reads a stream in its order", async () => {
  const run = await trainInProcess(2, {
    ...base,
    shuffle: true,
    args: { xs },
    data: ({ tf: t, args }: TrainContext) => t.data.zip({ xs: t.data.array(args.xs), ys: t.data.array(args.xs.map((row: number[]) => [row[0]])) }),
  });
  failedBeforeTraining(run, /shuffle: true cannot be applied to a tf.data.Dataset: .*dataset.shuffle\(bufferSize, seed\)/);
});

test("ranks that read different data (a stream shuffled without a seed) are refused before any step", async () => {
  const run = await trainInProcess(2, {
    ...base,
    args: { xs },
    // Each rank shuffles with its own seed: the global batches would differ between ranks.
    data: ({ tf: t, args, rank }: TrainContext) => t.data.zip({ xs: t.data.array(args.xs), ys: t.data.array(args.xs.map((row: number[]) => [row[0]])) }).shuffle(12, `seed-${rank}`),
  });
  const reasons = run.results.map((r) => (r.status === "rejected" ? String(r.reason) : "fulfilled"));
  for (const reason of reasons) assert.match(reason, /ranks 0 and 1 read different data: .*seed what is random \(a tf.data.Dataset's shuffle\(bufferSize, seed\)/);
  assert.deepEqual(run.events, []);
});

test("a loss per output that does not match the model's outputs is refused, naming them", async () => {
  const run = await trainInProcess(2, { ...base, loss: { prise: "meanSquaredError" } });
  failedBeforeTraining(run, /loss names output "prise", which the model does not have; .*its outputs are dense_Dense\d+/);
});
