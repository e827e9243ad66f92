/**
 * The `train` and `evaluate` tasks' arguments as a rank reads them: every spec the owner builds
 * from real options comes back from a structured clone and the parser unchanged, and a spec of the
 * wrong shape fails naming its field.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { deserialize, serialize } from "node:v8";
import { taskKinds } from "../../lib/cluster/task-kinds.js";
import { parseWorkerEvaluateSpec, parseWorkerTrainSpec } from "../../lib/cluster/worker-spec-parser.js";
import { cosineDecay, exponentialDecay, linearWarmup, stepDecay, constantLearningRate } from "../../lib/training/learning-rate-schedule.js";
import { parseEvaluateOptions, parseTrainOptions, type TrainContext, type TrainOptions } from "../../lib/training/train-spec.js";
import { base, classifier, features, forms, labels, oneHot } from "../training/data-form-cases.js";

/** Options beyond the data forms: losses per output, metrics, validation, schedules, controls, callbacks. */
const controlled: Array<{ name: string; options: TrainOptions }> = [
  { name: "built-in mnist data with a split and sample shape", options: { ...base, model: classifier, data: { builtin: "mnist", split: "test", sampleShape: [28, 28, 1] } } },
  { name: "built-in synthetic data", options: { ...base, model: classifier, data: { builtin: "synthetic", size: 64, features: 3, classes: 3, seed: 2 } } },
  { name: "a loss function and per-position losses with lossWeights", options: { ...base, model: classifier, loss: ["meanSquaredError", (yTrue: unknown, yPred: unknown) => [yTrue, yPred]], lossWeights: [1, 0.5], data: { xs: features, ys: oneHot } } },
  {
    name: "named and function metrics, validation every 2 steps with 1 batch, early stopping on val_accuracy",
    options: {
      ...base,
      model: classifier,
      data: { xs: features, ys: oneHot },
      metrics: ["accuracy", "precision", function myMetric(yTrue: unknown) { return yTrue; }],
      validationData: { xs: features, ys: Int32Array.from(labels) },
      validationEvery: { steps: 2, epochs: 1 },
      validationSteps: 1,
      earlyStopping: { monitor: "val_accuracy", patience: 2, minDelta: 1e-3, restoreBestWeights: true, baseline: 0.1 },
    },
  },
  {
    name: "a warmup into exponential decay, clipNorm, accumulation, checkpoints and the schedule flags",
    options: {
      ...base,
      model: classifier,
      data: { builtin: "synthetic" },
      optimizer: { name: "adam", learningRate: linearWarmup({ learningRate: 0.1, warmupSteps: 2, then: exponentialDecay({ initialLearningRate: 0.1, decaySteps: 3, decayRate: 0.5, staircase: true }) }), beta1: 0.8, fused: false },
      clipNorm: 1.5,
      accumulationSteps: 2,
      checkpoint: { dir: "/tmp/ringbook-checkpoints", everySteps: 5 },
      resumeFrom: "/tmp/ringbook-earlier",
      shuffle: false,
      dropRemainder: true,
      stepsPerEpoch: 3,
      metricsIntervalMs: 50,
      args: { scale: 2, names: ["a"], nested: { typed: new Float32Array([1, 2]) } },
      callbacks: { onEpochEnd: () => undefined },
      earlyStopping: true,
    },
  },
  {
    name: "a learning-rate function, clipValue and momentum",
    options: { ...base, model: classifier, data: { builtin: "synthetic" }, optimizer: { name: "momentum", learningRate: ({ step }: { step: number }) => 0.1 / (1 + step), useNesterov: true }, clipValue: 0.5 },
  },
  ...[stepDecay({ initialLearningRate: 1, decayRate: 0.5, everyEpochs: 2 }), cosineDecay({ initialLearningRate: 0, warmupTarget: 2, warmupSteps: 4, decaySteps: 10, alpha: 0.1 }), constantLearningRate(0.01)].map((learningRate) => ({
    name: `the ${learningRate.schedule} schedule`,
    options: { ...base, model: classifier, data: { builtin: "synthetic" as const }, optimizer: { name: "rmsprop" as const, learningRate, centered: true } },
  })),
  {
    name: "a data function for training and validation",
    options: { ...base, model: classifier, args: { features, oneHot }, data: ({ args }: TrainContext) => args, validationData: ({ args }: TrainContext) => args, validationEvery: { epochs: 2 } },
  },
];

/** What a rank receives: the owner's spec after serialize/deserialize (structured clone). */
function sent<T>(spec: T): unknown {
  return deserialize(serialize(spec));
}

describe("worker spec parsers", () => {
  for (const { name, options } of [...forms, ...controlled]) {
    test(`the train spec of ${name} reads back unchanged`, () => {
      const spec = parseTrainOptions(options, 2);
      assert.deepEqual(parseWorkerTrainSpec(sent(spec), "args"), spec);
      assert.deepEqual(taskKinds.train.parseArgs(structuredClone(spec), "args"), spec);
    });
  }

  test("evaluate specs read back unchanged", () => {
    const defaults = { metrics: [{ name: "accuracy" as const }], args: { n: 1 } };
    for (const [data, options] of [
      [{ xs: features, ys: oneHot }, {}],
      [{ builtin: "mnist" }, { batchSize: 8, steps: 2, metrics: ["precision"], args: [1, 2] }],
      [({ args }: TrainContext) => args, { metrics: [function myMetric() { return 0; }] }],
    ] as const) {
      const spec = parseEvaluateOptions(data, options, 2, defaults);
      assert.deepEqual(parseWorkerEvaluateSpec(sent(spec), "args"), spec);
      assert.deepEqual(taskKinds.evaluate.parseArgs(sent(spec), "args"), spec);
    }
  });

  test("a spec of the wrong shape is an ERR_BAD_PAYLOAD naming the field and quoting what was there", () => {
    const good = parseTrainOptions(controlled[3]!.options, 2);
    const refused = (change: (spec: Record<string, any>) => void, message: RegExp): void => {
      const spec: Record<string, any> = structuredClone(good);
      change(spec);
      assert.throws(() => parseWorkerTrainSpec(spec, "the train task's args"), (error: unknown) => {
        assert.ok(error instanceof Error && "code" in error && error.code === "ERR_BAD_PAYLOAD", String(error));
        assert.match(error.message, message);
        return true;
      });
    };
    refused((spec) => (spec["schedule"].batchSize = "8"), /^the train task's args\.schedule\.batchSize must be an integer >= 1, got "8"$/);
    refused((spec) => (spec["optimizer"].name = "adamw"), /^the train task's args\.optimizer\.name must be one of sgd, momentum, adam, adamax, rmsprop, adagrad, adadelta, got "adamw"$/);
    refused((spec) => (spec["loss"] = { kind: "all", loss: { name: "hinge" } }), /^the train task's args\.loss\.loss\.name must be a loss name \(.*\) or a source, got "hinge"$/);
    refused((spec) => (spec["metrics"][1] = { name: 7 }), /^the train task's args\.metrics\[1\]\.name must be a metric name/);
    refused((spec) => (spec["validation"].every = {}), /^the train task's args\.validation\.every must be \{ steps \} and\/or \{ epochs \}, got \{\}$/);
    refused((spec) => (spec["validation"].data.inline.ys = { values: [1, 2], shape: [2] }), /^the train task's args\.validation\.data\.inline\.ys\.values must be a typed array, got \[1,2\]$/);
    refused((spec) => (spec["controls"].earlyStopping.mode = "auto"), /^the train task's args\.controls\.earlyStopping\.mode must be one of min, max, got "auto"$/);
    refused((spec) => (spec["data"] = { builtin: "imagenet" }), /^the train task's args\.data\.builtin must be one of mnist, synthetic, got "imagenet"$/);
    refused((spec) => (spec["lossWeights"] = [1, -1]), /^the train task's args\.lossWeights\[1\] must be a finite number >= 0, got -1$/);
    refused((spec) => (spec["epochz"] = 2), /^the train task's args\.epochz must be absent \(the train task's args has only modelSource, .*\), got 2$/);
    refused((spec) => delete spec["modelSource"], /^the train task's args\.modelSource must be a string, got undefined$/);
    assert.throws(() => parseWorkerTrainSpec(null, "args"), /args must be an object, got null$/);
    assert.throws(() => parseWorkerEvaluateSpec({ data: { source: "() => 1" }, batchSize: 0, metrics: [], args: undefined }, "args"), /args\.batchSize must be an integer >= 1, got 0/);
    const schedule = parseTrainOptions(controlled[4]!.options, 2);
    const spec: Record<string, any> = structuredClone(schedule);
    spec.controls = { learningRate: { kind: "builtin", schedule: { schedule: "linearWarmup", learningRate: 1, warmupSteps: 2, then: { schedule: "cosine", decaySteps: 1 } } } };
    assert.throws(() => parseWorkerTrainSpec(spec, "args"), /args\.controls\.learningRate\.schedule\.then\.schedule must be one of constant, linearWarmup, stepDecay, exponentialDecay, cosineDecay, got "cosine"$/);
  });
});
