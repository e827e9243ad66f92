/**
 * Training controls on ranks in one process (the all-reduce faked at its seam), checked against
 * oracles: learning-rate schedules and gradient clipping against tfjs's own SGD and momentum
 * optimizers driven by hand on the same batches; every optimizer's schedule fused and in tfjs;
 * gradient accumulation against one step on the union of its micro-batches; early stopping against
 * a run that ends at the best epoch. And the errors, with their messages.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { runWorkerTraining, exportTrainedModel, type WorkerTrainEvent, type WorkerTrainResult, type ExportedModel } from "../../lib/training/worker-train.js";
import { parseTrainOptions, type TrainOptions } from "../../lib/training/train-spec.js";
import { trainSingleProcess } from "../../lib/training/train-single-process.js";
import { cosineDecay, exponentialDecay, learningRateAt, linearWarmup, stepDecay, constantLearningRate } from "../../lib/training/learning-rate-schedule.js";
import { clipGradients } from "../../lib/training/gradient-clipping.js";
import { syntheticClassification } from "../../lib/data/synthetic.js";
import type { StepRecord } from "../../lib/metrics/step-record.js";
import type { EpochRecord } from "../../lib/training/epoch-record.js";
import { InProcessAllReduce, InProcessBroadcast } from "./in-process-all-reduce.js";

await tf.setBackend("cpu");

async function trainInProcess(worldSize: number, options: TrainOptions): Promise<{ results: WorkerTrainResult[]; steps: StepRecord[]; epochs: EpochRecord[]; weights: Float32Array[] }> {
  const spec = parseTrainOptions(options, worldSize);
  const allReduce = new InProcessAllReduce(worldSize);
  const broadcast = new InProcessBroadcast(worldSize);
  const events: WorkerTrainEvent[] = [];
  const results = await Promise.all(
    Array.from({ length: worldSize }, (_, rank) =>
      runWorkerTraining(
        { rank, worldSize, allReduceSum: allReduce.forRank(rank), broadcast: (values) => broadcast.broadcast(values), emit: (event) => events.push(event), stopRequested: () => false },
        { ...spec, metricsIntervalMs: 3_600_000 },
      ),
    ),
  );
  const weightsOfRanks = await Promise.all(Array.from({ length: worldSize }, async (_, rank) => weightsOf(await exportTrainedModel(rank))));
  for (const rankWeights of weightsOfRanks) assert.deepEqual(rankWeights, weightsOfRanks[0], "every rank holds the same weights");
  return {
    results,
    steps: events.flatMap((e) => (e.kind === "steps" && e.rank === 0 ? e.records : [])),
    epochs: events.flatMap((e) => (e.kind === "epochs" ? e.records : [])),
    weights: weightsOfRanks[0]!,
  };
}

async function weightsOf(exported: ExportedModel): Promise<Float32Array[]> {
  if (exported.kind === "variables") return exported.variables.map((v) => Float32Array.from(v.values));
  const model = await tf.loadLayersModel(tf.io.fromMemory(exported));
  const values = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.dispose();
  return values;
}

async function alone(options: TrainOptions): Promise<{ weights: Float32Array[]; records: StepRecord[] }> {
  const { model, records } = await trainSingleProcess(options);
  return { weights: await weightsOf(model), records };
}

function maxAbsDifference(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  a.forEach((values, i) => values.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i]![j]!)))));
  return worst;
}

const features = 6;
const classes = 3;
const size = 48;
/** A softmax regression as a custom variables model: its initial weights are fixed, so the hand oracle can start from them. */
const linearModel = ({ tf: t }: { tf: typeof tf }) => {
  const w = t.variable(t.randomNormal([6, 3], 0, 0.5, "float32", 7));
  const b = t.variable(t.zeros([3]));
  const logits = (xs: tf.Tensor) => t.add(t.matMul(xs as tf.Tensor2D, w), b);
  return { variables: [w, b], loss: (xs: tf.Tensor, ys: tf.Tensor) => t.losses.softmaxCrossEntropy(ys, logits(xs)) as tf.Scalar, predict: logits };
};

/**
 * The oracle: tfjs's own optimizer on the whole data set (one full batch per step), its learning
 * rate set by hand before each step and the gradients clipped by hand as tf.clip_by_global_norm and
 * tf.clip_by_value do. Returns the weights and how many steps clipping changed the gradients.
 */
function byHand(options: { optimizer: tf.Optimizer & { setLearningRate(lr: number): void }; steps: number; learningRate: (step: number) => number; clipNorm?: number; clipValue?: number }): { weights: Float32Array[]; clippedSteps: number } {
  const data = syntheticClassification({ size, features, classes, seed: 5 });
  const { xs, ys } = data.batch(Uint32Array.from({ length: size }, (_, i) => i));
  const model = linearModel({ tf });
  let clippedSteps = 0;
  for (let step = 0; step < options.steps; step++) {
    options.optimizer.setLearningRate(options.learningRate(step));
    const { grads, value } = tf.variableGrads(() => model.loss(xs, ys), model.variables);
    const list = model.variables.map((v) => grads[v.name]!);
    let clipped = list;
    if (options.clipNorm !== undefined) {
      const norm = Math.sqrt(list.reduce((sum, g) => sum + tf.sum(tf.square(g)).dataSync()[0]!, 0));
      if (norm > options.clipNorm) clippedSteps++;
      clipped = list.map((g) => tf.mul(g, options.clipNorm! / Math.max(norm, options.clipNorm!)));
    }
    if (options.clipValue !== undefined) {
      if (list.some((g) => tf.max(tf.abs(g)).dataSync()[0]! > options.clipValue!)) clippedSteps++;
      clipped = list.map((g) => tf.clipByValue(g, -options.clipValue!, options.clipValue!));
    }
    options.optimizer.applyGradients(Object.fromEntries(model.variables.map((v, i) => [v.name, clipped[i]!])));
    tf.dispose([value, ...list, ...clipped]);
  }
  const weights = model.variables.map((v) => v.dataSync() as Float32Array);
  tf.dispose([xs, ys, ...model.variables]);
  options.optimizer.dispose();
  return { weights, clippedSteps };
}

const fullBatch = (overrides: Partial<TrainOptions>): TrainOptions => ({
  model: linearModel,
  data: { builtin: "synthetic", size, features, classes, seed: 5 },
  batchSize: size,
  shuffle: false,
  epochs: 6,
  ...overrides,
});

test("built-in learning-rate schedules follow Keras's (and PyTorch's StepLR) formulas", () => {
  const at = (schedule: Parameters<typeof learningRateAt>[0], step: number, epoch = 0) => learningRateAt(schedule, { step, epoch, stepsPerEpoch: 10, totalSteps: 100 });
  const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} vs ${expected}`);
  close(at(constantLearningRate(0.1), 7), 0.1);
  const warm = linearWarmup({ learningRate: 1, warmupSteps: 4, then: exponentialDecay({ initialLearningRate: 1, decaySteps: 2, decayRate: 0.5 }) });
  [0, 0.5, 1, 0.5].forEach((expected, i) => close(at(warm, [0, 2, 4, 6][i]!), expected));
  close(at(linearWarmup({ learningRate: 1, warmupSteps: 4, initialLearningRate: 0.2 }), 2), 0.6);
  const everyTwoEpochs = stepDecay({ initialLearningRate: 1, decayRate: 0.1, everyEpochs: 2 });
  [1, 1, 0.1, 0.01].forEach((expected, i) => close(at(everyTwoEpochs, 0, [0, 1, 2, 5][i]!), expected));
  close(at(stepDecay({ initialLearningRate: 1, decayRate: 0.5, everySteps: 3 }), 7), 0.25);
  close(at(exponentialDecay({ initialLearningRate: 1, decaySteps: 10, decayRate: 0.5 }), 15), Math.pow(0.5, 1.5));
  close(at(exponentialDecay({ initialLearningRate: 1, decaySteps: 10, decayRate: 0.5, staircase: true }), 15), 0.5);
  const cosine = cosineDecay({ initialLearningRate: 1, decaySteps: 10 });
  [1, 0.5, 0, 0].forEach((expected, i) => close(at(cosine, [0, 5, 10, 20][i]!), expected));
  close(at(cosineDecay({ initialLearningRate: 1, decaySteps: 10, alpha: 0.1 }), 10), 0.1);
  const warmCosine = cosineDecay({ initialLearningRate: 0, warmupTarget: 2, warmupSteps: 4, decaySteps: 10 });
  [1, 2, 1, 0].forEach((expected, i) => close(at(warmCosine, [2, 4, 9, 14][i]!), expected));
});

test("clipGradients clips by global norm as tf.clip_by_global_norm and by value as tf.clip_by_value", () => {
  const byNorm = Float32Array.of(3, 0, -4);
  assert.equal(clipGradients(byNorm, { clipNorm: 1 }), 5);
  assert.deepEqual([...byNorm], [Math.fround(0.6), 0, Math.fround(-0.8)]);
  const small = Float32Array.of(0.3, 0.4);
  clipGradients(small, { clipNorm: 1 });
  assert.deepEqual([...small], [Math.fround(0.3), Math.fround(0.4)], "a norm under the limit leaves the gradients alone");
  const byValue = Float32Array.of(-2, 0.5, 3);
  clipGradients(byValue, { clipValue: 1 });
  assert.deepEqual([...byValue], [-1, 0.5, 1]);
  const infinite = Float32Array.of(Number.POSITIVE_INFINITY, 1);
  clipGradients(infinite, { clipNorm: 1 });
  assert.ok(infinite.every(Number.isNaN), "a non-finite norm gives NaN gradients, as in tf");
});

test("a learning-rate function with global-norm clipping gives tfjs's SGD driven by hand, on 2 ranks and on 1", async () => {
  const options = fullBatch({ optimizer: { name: "sgd", learningRate: ({ step }: { step: number }) => 2 / (1 + step) }, clipNorm: 0.3 });
  const oracle = byHand({ optimizer: tf.train.sgd(1), steps: 6, learningRate: (step) => 2 / (1 + step), clipNorm: 0.3 });
  assert.ok(oracle.clippedSteps >= 3, `clipping changed ${oracle.clippedSteps} of 6 steps`);
  const two = await trainInProcess(2, options);
  assert.ok(maxAbsDifference(two.weights, oracle.weights) < 1e-5, `2 ranks vs tfjs: ${maxAbsDifference(two.weights, oracle.weights)}`);
  assert.deepEqual(two.steps.map((r) => r.learningRate), [2, 1, 2 / 3, 0.5, 0.4, 2 / 6]);
  const one = await alone(options);
  assert.ok(maxAbsDifference(one.weights, oracle.weights) < 1e-5, `1 rank vs tfjs: ${maxAbsDifference(one.weights, oracle.weights)}`);
});

test("a step-decay schedule with value clipping gives tfjs's momentum optimizer driven by hand (tfjs's optimizer in the run too)", async () => {
  const learningRate = stepDecay({ initialLearningRate: 0.5, decayRate: 0.5, everySteps: 2 });
  const options = fullBatch({ optimizer: { name: "momentum", momentum: 0.9, fused: false, learningRate }, clipValue: 0.05 });
  const oracle = byHand({ optimizer: tf.train.momentum(1, 0.9), steps: 6, learningRate: (step) => 0.5 * Math.pow(0.5, Math.floor(step / 2)), clipValue: 0.05 });
  assert.ok(oracle.clippedSteps >= 3, `clipping changed ${oracle.clippedSteps} of 6 steps`);
  const two = await trainInProcess(2, options);
  assert.ok(maxAbsDifference(two.weights, oracle.weights) < 1e-5, `2 ranks vs tfjs: ${maxAbsDifference(two.weights, oracle.weights)}`);
});

test("every optimizer follows a schedule, fused and in tfjs's implementation alike", async () => {
  const learningRate = ({ step }: { step: number }) => (step < 2 ? 0.05 : 0.01);
  for (const name of ["sgd", "momentum", "adam", "adamax", "rmsprop", "adagrad", "adadelta"] as const) {
    const base = fullBatch({ epochs: 4, batchSize: 24, shuffle: true });
    const fused = await alone({ ...base, optimizer: { name, learningRate } });
    const tfjs = await alone({ ...base, optimizer: { name, learningRate, fused: false } });
    const constant = await alone({ ...base, optimizer: { name, learningRate: 0.05 } });
    const difference = maxAbsDifference(fused.weights, tfjs.weights);
    assert.ok(difference < 1e-5, `${name}: fused vs tfjs ${difference}`);
    assert.ok(maxAbsDifference(fused.weights, constant.weights) > 1e-4, `${name}: the schedule changed the training`);
    assert.deepEqual(fused.records.map((r) => r.learningRate), [0.05, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01]);
  }
});

const mlp = ({ tf: t }: { tf: typeof tf }) =>
  t.sequential({ layers: [t.layers.dense({ inputShape: [8], units: 8, activation: "relu" }), t.layers.dense({ units: 3, activation: "softmax" })] });
const mlpOptions = (overrides: Partial<TrainOptions>): TrainOptions => ({
  model: mlp,
  // 100 samples in micro-batches of 20: five per epoch, so groups of 2, 2 and 1 with accumulationSteps 2.
  data: { builtin: "synthetic", size: 100, features: 8, classes: 3, seed: 2 },
  optimizer: { name: "adam", learningRate: 0.02 },
  batchSize: 20,
  epochs: 2,
  seed: 4,
  ...overrides,
});

test("gradient accumulation over 2 micro-batches equals one step on both, on 2 ranks and on 1, with a short last group", async () => {
  const two = await trainInProcess(2, mlpOptions({ accumulationSteps: 2 }));
  assert.deepEqual(two.steps.map((r) => r.globalSamples), [40, 40, 20, 40, 40, 20], "3 optimizer steps per epoch");
  assert.deepEqual(two.results[0]!.position, { epoch: 2, stepInEpoch: 0, globalStep: 6 });
  const oneAccumulating = await alone(mlpOptions({ accumulationSteps: 2 }));
  const oneBigBatch = await alone(mlpOptions({ batchSize: 40 }));
  assert.ok(maxAbsDifference(two.weights, oneAccumulating.weights) < 2e-5, `2 ranks vs 1: ${maxAbsDifference(two.weights, oneAccumulating.weights)}`);
  assert.ok(maxAbsDifference(oneAccumulating.weights, oneBigBatch.weights) < 2e-5, `accumulated vs one batch of 40: ${maxAbsDifference(oneAccumulating.weights, oneBigBatch.weights)}`);
  two.steps.forEach((r, i) => assert.ok(Math.abs(r.loss - oneBigBatch.records[i]!.loss) < 1e-5, `step ${i + 1}: loss ${r.loss} vs ${oneBigBatch.records[i]!.loss}`));
});

test("early stopping ends every rank at the same epoch and restores the best epoch's weights", async () => {
  // A minDelta no change can beat: epoch 0 improves on nothing, epoch 1 does not improve on it.
  const earlyStopping = { monitor: "loss", minDelta: 1e9, patience: 1, restoreBestWeights: true };
  const two = await trainInProcess(2, mlpOptions({ epochs: 5, earlyStopping }));
  for (const result of two.results) {
    assert.equal(result.stopped, false);
    assert.deepEqual(result.position, { epoch: 2, stepInEpoch: 0, globalStep: 10 }, "stopped after epoch 1");
    assert.deepEqual(result.earlyStopping, { stoppedEpoch: 1, bestEpoch: 0, best: two.epochs[0]!.logs.loss, restoredBestWeights: true });
  }
  // The epoch records (rank 0's) carry the epoch's mean loss, each step weighted by its samples.
  assert.deepEqual(two.epochs.map((e) => [e.epoch, e.step, e.steps, e.samples]), [[0, 5, 5, 100], [1, 10, 5, 100]]);
  const firstEpoch = two.steps.slice(0, 5);
  const mean = firstEpoch.reduce((sum, r) => sum + r.loss * r.globalSamples, 0) / 100;
  assert.ok(Math.abs(two.epochs[0]!.logs.loss - mean) < 1e-12);
  const bestEpochOnly = await alone(mlpOptions({ epochs: 1 }));
  assert.ok(maxAbsDifference(two.weights, bestEpochOnly.weights) < 2e-5, `restored vs a 1-epoch run: ${maxAbsDifference(two.weights, bestEpochOnly.weights)}`);
  // Without restoring, the weights are the second epoch's.
  const kept = await trainInProcess(2, mlpOptions({ epochs: 5, earlyStopping: { ...earlyStopping, restoreBestWeights: false } }));
  const twoEpochs = await alone(mlpOptions({ epochs: 2 }));
  assert.ok(maxAbsDifference(kept.weights, twoEpochs.weights) < 2e-5);
});

test("training options of the controls are refused before any worker computes, naming the bad value or the closest name", () => {
  const base = mlpOptions({});
  const refused = (overrides: Record<string, unknown>, message: RegExp) => assert.throws(() => parseTrainOptions({ ...base, ...overrides }, 2), message);
  refused({ clipNorm: 1, clipValue: 0.5 }, /set one of clipNorm and clipValue, not both \(got clipNorm 1 and clipValue 0.5\), as in Keras/);
  refused({ clipNorm: -1 }, /clipNorm must be a finite number > 0, got -1/);
  refused({ accumulationSteps: 1.5 }, /accumulationSteps must be a positive integer \(micro-batches per optimizer step\), got 1.5/);
  refused({ optimizer: { name: "adam", learningRate: { schedule: "cosine", initialLearningRate: 1, decaySteps: 5 } } }, /optimizer.learningRate: unknown schedule "cosine"; did you mean `cosineDecay`\?/);
  refused({ optimizer: { name: "adam", learningRate: "fast" } }, /optimizer.learningRate must be a number, a schedule or a function, got "fast"/);
  assert.throws(() => cosineDecay({ initialLearningRate: 0, decaySteps: 10, warmupSteps: 5 }), /cosineDecay with warmupSteps needs warmupTarget/);
  assert.throws(() => stepDecay({ initialLearningRate: 1, decayRate: 0.5 }), /stepDecay needs exactly one of everySteps and everyEpochs/);
  refused({ optimizer: { name: "adam", learningrate: 0.1 } }, /optimizer adam: unknown option\(s\) learningrate; did you mean `learningRate`\?; it takes learningRate, beta1, beta2, epsilon, fused/);
  refused({ optimizer: { name: "adam", beta1: 1 } }, /optimizer adam: beta1 must be in \[0, 1\), got 1/);
  refused({ optimizer: "adamw" }, /unknown optimizer "adamw"; did you mean `adam`\?/);
  refused({ earlyStopping: { monitor: "val_loss" } }, /earlyStopping.monitor "val_loss" is not a log of this run; val_ logs need validationData/);
  refused({ earlyStopping: { patiense: 2 } }, /earlyStopping has no option "patiense"; did you mean `patience`\?/);
  refused({ earlyStopping: { patience: -1 } }, /earlyStopping.patience must be an integer ≥ 0, got -1/);
  refused({ callbacks: { onEpochEnds: () => undefined } }, /callbacks has no callback "onEpochEnds"; did you mean `onEpochEnd`\?/);
  refused({ callbacks: { onStepEnd: 3 } }, /callbacks.onStepEnd must be a function, got 3/);
});

test("a learning-rate function that gives no valid rate fails the run, naming the step", async () => {
  await assert.rejects(
    trainSingleProcess(mlpOptions({ optimizer: { name: "sgd", learningRate: ({ step }: { step: number }) => (step < 2 ? 0.1 : Number.NaN) } })),
    /the learning rate at step 2 \(epoch 0\) is NaN; it must be a finite number ≥ 0/,
  );
});

test("a learning-rate function reads notebook values through args; one that closes over them fails, saying to pass them in args", async () => {
  const { records } = await trainSingleProcess(mlpOptions({ args: { peak: 0.05 }, epochs: 1, optimizer: { name: "sgd", learningRate: ({ step, args }: { step: number; args: { peak: number } }) => args.peak / (step + 1) } }));
  assert.deepEqual(records.map((r) => r.learningRate), [0.05, 0.025, 0.05 / 3, 0.0125, 0.01]);
  const peak = 0.05;
  await assert.rejects(
    trainSingleProcess(mlpOptions({ optimizer: { name: "sgd", learningRate: () => peak } })),
    /the learning-rate function threw at step 0 \(epoch 0\): ReferenceError: peak is not defined \(the function runs on the workers from its source text: pass notebook values in args/,
  );
});

test("a run resumed from a checkpoint continues the schedule and the accumulation groups where an uninterrupted run would be", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ringbook-controls-"));
  try {
    const options = (epochs: number) => mlpOptions({ epochs, accumulationSteps: 2, clipNorm: 0.5, optimizer: { name: "adam", learningRate: cosineDecay({ initialLearningRate: 0.05, decaySteps: 6 }) } });
    const straight = await alone(options(2));
    await trainSingleProcess({ ...options(1), checkpoint: join(dir, "ckpt") });
    const resumed = await alone({ ...options(2), resumeFrom: join(dir, "ckpt") });
    assert.deepEqual(resumed.records.map((r) => [r.step, r.learningRate]), straight.records.slice(3).map((r) => [r.step, r.learningRate]));
    assert.ok(maxAbsDifference(resumed.weights, straight.weights) < 1e-6, `resumed vs straight: ${maxAbsDifference(resumed.weights, straight.weights)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("controls leak no tensors over a run", async () => {
  // tfjs's own SGD: its learning rate is a scalar tensor, replaced when the schedule changes it.
  const options = mlpOptions({ optimizer: { name: "sgd", fused: false, learningRate: exponentialDecay({ initialLearningRate: 0.1, decaySteps: 2, decayRate: 0.5 }) }, clipNorm: 0.5, accumulationSteps: 2, earlyStopping: { restoreBestWeights: true, patience: 5 } });
  await trainSingleProcess(options);
  const before = tf.memory().numTensors;
  await trainSingleProcess(options);
  assert.equal(tf.memory().numTensors, before);
});
