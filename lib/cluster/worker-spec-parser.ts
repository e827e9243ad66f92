/**
 * Parsers for the arguments of the `train` and `evaluate` tasks, read on each rank. The owner builds
 * a {@link WorkerTrainSpec} with `parseTrainOptions` (a {@link WorkerEvaluateSpec} with
 * `parseEvaluateOptions`) and sends it as a structured clone; the rank receives `unknown` and
 * reads it back here field by field, so a spec from another version, or one damaged on the way,
 * fails its task with an `ERR_BAD_PAYLOAD` that names the field and quotes what was there, before
 * any model is built. The checks are of shape and kind; what needs the model (output names, a
 * monitor's name) is checked where the model is built.
 */
import type { SampleLeaf, SampleTree, ShapedValues } from "../data/sample-arrays.js";
import { isSampleTypedArray } from "../data/sample-arrays.js";
import type { EarlyStoppingSpec } from "../training/early-stopping.js";
import type { GradientClipping } from "../training/gradient-clipping.js";
import type { LearningRateSchedule, LearningRateSpec } from "../training/learning-rate-schedule.js";
import type { LossEntrySpec, WorkerLossSpec } from "../training/loss-options.js";
import { isLossName, lossNames, type LossWeights } from "../training/losses.js";
import { isMetricName, metricNames, type MetricSpec } from "../training/metrics.js";
import { optimizerNames, type OptimizerSpec } from "../training/optimizers.js";
import type { TrainingSchedule } from "../training/rank-loop.js";
import type { BuiltinData, WorkerEvaluateSpec, WorkerTrainSpec } from "../training/train-spec.js";
import type { TrainingControlsSpec } from "../training/training-controls.js";
import type { ValidationEvery } from "../training/validation.js";
import type { JsonObject } from "../json-guards.js";
import {
  arrayAt,
  BadPayloadError,
  booleanField,
  integerField,
  numberField,
  objectAt,
  oneOf,
  onlyKeys,
  optionalField,
  optionalNumberField,
  stringField,
} from "./payload-fields.js";

/**
 * A {@link WorkerTrainSpec}: the `train` task's arguments.
 * @example
 * const spec = parseWorkerTrainSpec(deserialize(payload), "the train task's args");
 */
export function parseWorkerTrainSpec(value: unknown, path: string): WorkerTrainSpec {
  const spec = objectAt(value, path);
  onlyKeys(spec, ["modelSource", "data", "loss", "lossWeights", "optimizer", "schedule", "seed", "resumeFrom", "args", "metricsIntervalMs", "controls", "metrics", "validation"], path);
  return {
    modelSource: stringField(spec, "modelSource", path),
    data: parseData(spec["data"], `${path}.data`),
    loss: parseLoss(spec["loss"], `${path}.loss`),
    ...(spec["lossWeights"] === undefined ? {} : { lossWeights: parseLossWeights(spec["lossWeights"], `${path}.lossWeights`) }),
    optimizer: parseOptimizer(spec["optimizer"], `${path}.optimizer`),
    schedule: parseSchedule(spec["schedule"], `${path}.schedule`),
    seed: anyIntegerField(spec, "seed", path),
    ...optionalField(spec, "resumeFrom", path, stringField),
    // The user's values for the model and data functions: any structured-clone data.
    args: spec["args"],
    metricsIntervalMs: integerField(spec, "metricsIntervalMs", path, 1),
    controls: parseControls(spec["controls"], `${path}.controls`),
    ...(spec["metrics"] === undefined ? {} : { metrics: parseMetrics(spec["metrics"], `${path}.metrics`) }),
    ...(spec["validation"] === undefined ? {} : { validation: parseValidation(spec["validation"], `${path}.validation`) }),
  };
}

/** A {@link WorkerEvaluateSpec}: the `evaluate` task's arguments. */
export function parseWorkerEvaluateSpec(value: unknown, path: string): WorkerEvaluateSpec {
  const spec = objectAt(value, path);
  onlyKeys(spec, ["data", "batchSize", "steps", "metrics", "args"], path);
  return {
    data: parseData(spec["data"], `${path}.data`),
    batchSize: integerField(spec, "batchSize", path, 1),
    ...optionalField(spec, "steps", path, positiveIntegerField),
    metrics: parseMetrics(spec["metrics"], `${path}.metrics`),
    args: spec["args"],
  };
}

/** Any integer (a seed may be negative), not only a safe one: the owner checks `Number.isInteger`. */
function anyIntegerField(object: JsonObject, key: string, path: string): number {
  const value = numberField(object, key, path);
  if (!Number.isInteger(value)) throw new BadPayloadError(`${path}.${key}`, "an integer", value);
  return value;
}

function positiveIntegerField(object: JsonObject, key: string, path: string): number {
  return integerField(object, key, path, 1);
}

/** A finite number >= 0 (hyperparameters, loss weights, clipping limits). */
function finiteField(object: JsonObject, key: string, path: string): number {
  const value = numberField(object, key, path);
  if (!Number.isFinite(value) || value < 0) throw new BadPayloadError(`${path}.${key}`, "a finite number >= 0", value);
  return value;
}

// ---- data -------------------------------------------------------------------------------------

function parseData(value: unknown, path: string): WorkerTrainSpec["data"] {
  const data = objectAt(value, path);
  if (data["source"] !== undefined) {
    onlyKeys(data, ["source"], path);
    return { source: stringField(data, "source", path) };
  }
  if (data["inline"] !== undefined) {
    onlyKeys(data, ["inline"], path);
    const inline = objectAt(data["inline"], `${path}.inline`);
    onlyKeys(inline, ["xs", "ys"], `${path}.inline`);
    return { inline: { xs: parseSampleTree(inline["xs"], `${path}.inline.xs`), ys: parseSampleTree(inline["ys"], `${path}.inline.ys`) } };
  }
  if (data["builtin"] !== undefined) return parseBuiltinData(data, path);
  throw new BadPayloadError(path, "{ source }, { inline: { xs, ys } } or { builtin }", value);
}

function parseBuiltinData(data: JsonObject, path: string): BuiltinData {
  const builtin = oneOf(data["builtin"], ["mnist", "synthetic"], `${path}.builtin`);
  switch (builtin) {
    case "mnist":
      onlyKeys(data, ["builtin", "split", "sampleShape"], path);
      return {
        builtin,
        ...(data["split"] === undefined ? {} : { split: oneOf(data["split"], ["train", "test"], `${path}.split`) }),
        ...(data["sampleShape"] === undefined ? {} : { sampleShape: parseShape(data["sampleShape"], `${path}.sampleShape`) }),
      };
    case "synthetic":
      onlyKeys(data, ["builtin", "size", "features", "classes", "seed"], path);
      return {
        builtin,
        ...optionalField(data, "size", path, integerField),
        ...optionalField(data, "features", path, positiveIntegerField),
        ...optionalField(data, "classes", path, positiveIntegerField),
        ...optionalField(data, "seed", path, anyIntegerField),
      };
    default: {
      const impossible: never = builtin;
      throw new BadPayloadError(`${path}.builtin`, `"mnist" or "synthetic"`, impossible);
    }
  }
}

function parseShape(value: unknown, path: string): number[] {
  return arrayAt(value, path).map((size, i) => {
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw new BadPayloadError(`${path}[${i}]`, "a dimension (an integer >= 0)", size);
    return size;
  });
}

/**
 * Samples as the owner sends them (`toSampleTree`): a flat typed array or `{ values, shape, dtype }`,
 * one, a list of them, or a map by input or output name. The rank reads them again with
 * `readSampleTree`, which checks values against shapes.
 */
function parseSampleTree(value: unknown, path: string): SampleTree {
  if (isSampleTypedArray(value) || isShapedValues(value)) return parseSampleLeaf(value, path);
  if (Array.isArray(value)) return value.map((leaf, i) => parseSampleLeaf(leaf, `${path}[${i}]`));
  const map = objectAt(value, path);
  // fromEntries defines own properties: a name such as "__proto__" stays a name.
  return Object.fromEntries(Object.keys(map).map((name) => [name, parseSampleLeaf(map[name], `${path}.${name}`)]));
}

/** An object with the keys of {@link ShapedValues}: read as one, not as a map of inputs of those names. */
function isShapedValues(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isSampleTypedArray(value) && "values" in value && "shape" in value;
}

function parseSampleLeaf(value: unknown, path: string): SampleLeaf {
  if (isSampleTypedArray(value)) return value;
  const leaf = objectAt(value, path);
  onlyKeys(leaf, ["values", "shape", "dtype"], path);
  const values = leaf["values"];
  if (!isSampleTypedArray(values)) throw new BadPayloadError(`${path}.values`, "a typed array", values);
  const shaped: ShapedValues = { values, shape: parseShape(leaf["shape"], `${path}.shape`) };
  if (leaf["dtype"] !== undefined) shaped.dtype = oneOf(leaf["dtype"], ["float32", "int32", "bool"], `${path}.dtype`);
  return shaped;
}

// ---- loss, metrics, optimizer -----------------------------------------------------------------

function parseLossEntry(value: unknown, path: string): LossEntrySpec {
  const entry = objectAt(value, path);
  if (entry["source"] !== undefined) {
    onlyKeys(entry, ["source"], path);
    return { source: stringField(entry, "source", path) };
  }
  onlyKeys(entry, ["name"], path);
  const name = entry["name"];
  if (!isLossName(name)) throw new BadPayloadError(`${path}.name`, `a loss name (${lossNames.join(", ")}) or a source`, name);
  return { name };
}

function parseLoss(value: unknown, path: string): WorkerLossSpec {
  const loss = objectAt(value, path);
  const kind = oneOf(loss["kind"], ["all", "byPosition", "byName"], `${path}.kind`);
  switch (kind) {
    case "all":
      onlyKeys(loss, ["kind", "loss"], path);
      return { kind, loss: parseLossEntry(loss["loss"], `${path}.loss`) };
    case "byPosition":
      onlyKeys(loss, ["kind", "losses"], path);
      return { kind, losses: arrayAt(loss["losses"], `${path}.losses`).map((entry, i) => parseLossEntry(entry, `${path}.losses[${i}]`)) };
    case "byName": {
      onlyKeys(loss, ["kind", "losses"], path);
      const byName = objectAt(loss["losses"], `${path}.losses`);
      return { kind, losses: Object.fromEntries(Object.keys(byName).map((name) => [name, parseLossEntry(byName[name], `${path}.losses.${name}`)])) };
    }
    default: {
      const impossible: never = kind;
      throw new BadPayloadError(`${path}.kind`, `"all", "byPosition" or "byName"`, impossible);
    }
  }
}

function parseLossWeights(value: unknown, path: string): LossWeights {
  if (Array.isArray(value)) {
    return value.map((weight: unknown, i) => {
      if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0) throw new BadPayloadError(`${path}[${i}]`, "a finite number >= 0", weight);
      return weight;
    });
  }
  const byName = objectAt(value, path);
  return Object.fromEntries(Object.keys(byName).map((name) => [name, finiteField(byName, name, path)]));
}

function parseMetrics(value: unknown, path: string): MetricSpec[] {
  return arrayAt(value, path).map((entry, i): MetricSpec => {
    const where = `${path}[${i}]`;
    const metric = objectAt(entry, where);
    if (metric["source"] !== undefined) {
      onlyKeys(metric, ["source", "name"], where);
      return { source: stringField(metric, "source", where), name: stringField(metric, "name", where) };
    }
    onlyKeys(metric, ["name"], where);
    const name = metric["name"];
    if (!isMetricName(name)) throw new BadPayloadError(`${where}.name`, `a metric name (${metricNames.join(", ")}) or a source`, name);
    return { name };
  });
}

const optimizerNumberKeys = ["learningRate", "momentum", "beta1", "beta2", "epsilon", "decay", "initialAccumulatorValue", "rho"] as const;
const optimizerFlagKeys = ["useNesterov", "centered", "fused"] as const;

function parseOptimizer(value: unknown, path: string): OptimizerSpec {
  const optimizer = objectAt(value, path);
  onlyKeys(optimizer, ["name", ...optimizerNumberKeys, ...optimizerFlagKeys], path);
  const spec: OptimizerSpec = { name: oneOf(optimizer["name"], optimizerNames, `${path}.name`) };
  for (const key of optimizerNumberKeys) if (optimizer[key] !== undefined) spec[key] = finiteField(optimizer, key, path);
  for (const key of optimizerFlagKeys) if (optimizer[key] !== undefined) spec[key] = booleanField(optimizer, key, path);
  return spec;
}

// ---- schedule, controls, validation -----------------------------------------------------------

function parseSchedule(value: unknown, path: string): TrainingSchedule {
  const schedule = objectAt(value, path);
  onlyKeys(schedule, ["batchSize", "epochs", "seed", "shuffle", "dropRemainder", "stepsPerEpoch", "checkpoint", "accumulationSteps"], path);
  const checkpoint = schedule["checkpoint"];
  return {
    batchSize: positiveIntegerField(schedule, "batchSize", path),
    epochs: positiveIntegerField(schedule, "epochs", path),
    seed: anyIntegerField(schedule, "seed", path),
    ...optionalField(schedule, "shuffle", path, booleanField),
    ...optionalField(schedule, "dropRemainder", path, booleanField),
    ...optionalField(schedule, "stepsPerEpoch", path, positiveIntegerField),
    ...(checkpoint === undefined ? {} : { checkpoint: parseCheckpoint(checkpoint, `${path}.checkpoint`) }),
    ...optionalField(schedule, "accumulationSteps", path, positiveIntegerField),
  };
}

function parseCheckpoint(value: unknown, path: string): { dir: string; everySteps: number } {
  const checkpoint = objectAt(value, path);
  onlyKeys(checkpoint, ["dir", "everySteps"], path);
  return { dir: stringField(checkpoint, "dir", path), everySteps: positiveIntegerField(checkpoint, "everySteps", path) };
}

function parseControls(value: unknown, path: string): TrainingControlsSpec {
  const controls = objectAt(value, path);
  onlyKeys(controls, ["learningRate", "clipping", "earlyStopping"], path);
  const { learningRate, clipping, earlyStopping } = controls;
  return {
    ...(learningRate === undefined ? {} : { learningRate: parseLearningRate(learningRate, `${path}.learningRate`) }),
    ...(clipping === undefined ? {} : { clipping: parseClipping(clipping, `${path}.clipping`) }),
    ...(earlyStopping === undefined ? {} : { earlyStopping: parseEarlyStopping(earlyStopping, `${path}.earlyStopping`) }),
  };
}

function parseLearningRate(value: unknown, path: string): LearningRateSpec {
  const spec = objectAt(value, path);
  const kind = oneOf(spec["kind"], ["builtin", "function"], `${path}.kind`);
  if (kind === "function") {
    onlyKeys(spec, ["kind", "source"], path);
    return { kind, source: stringField(spec, "source", path) };
  }
  onlyKeys(spec, ["kind", "schedule"], path);
  return { kind, schedule: parseLearningRateSchedule(spec["schedule"], `${path}.schedule`) };
}

/** A built-in schedule: the fields of each kind as `parseLearningRateSchedule` made them on the owner. */
function parseLearningRateSchedule(value: unknown, path: string): LearningRateSchedule {
  const s = objectAt(value, path);
  const schedule = oneOf(s["schedule"], ["constant", "linearWarmup", "stepDecay", "exponentialDecay", "cosineDecay"], `${path}.schedule`);
  const count = (key: string, min: number): number => integerField(s, key, path, min);
  switch (schedule) {
    case "constant":
      onlyKeys(s, ["schedule", "learningRate"], path);
      return { schedule, learningRate: finiteField(s, "learningRate", path) };
    case "linearWarmup":
      onlyKeys(s, ["schedule", "learningRate", "warmupSteps", "initialLearningRate", "then"], path);
      return {
        schedule,
        learningRate: finiteField(s, "learningRate", path),
        warmupSteps: count("warmupSteps", 1),
        ...optionalField(s, "initialLearningRate", path, finiteField),
        ...(s["then"] === undefined ? {} : { then: parseLearningRateSchedule(s["then"], `${path}.then`) }),
      };
    case "stepDecay":
      onlyKeys(s, ["schedule", "initialLearningRate", "decayRate", "everySteps", "everyEpochs"], path);
      if ((s["everySteps"] === undefined) === (s["everyEpochs"] === undefined)) throw new BadPayloadError(path, "a stepDecay with one of everySteps and everyEpochs", value);
      return {
        schedule,
        initialLearningRate: finiteField(s, "initialLearningRate", path),
        decayRate: finiteField(s, "decayRate", path),
        ...optionalField(s, "everySteps", path, positiveIntegerField),
        ...optionalField(s, "everyEpochs", path, positiveIntegerField),
      };
    case "exponentialDecay":
      onlyKeys(s, ["schedule", "initialLearningRate", "decaySteps", "decayRate", "staircase"], path);
      return {
        schedule,
        initialLearningRate: finiteField(s, "initialLearningRate", path),
        decaySteps: count("decaySteps", 1),
        decayRate: finiteField(s, "decayRate", path),
        ...optionalField(s, "staircase", path, booleanField),
      };
    case "cosineDecay":
      onlyKeys(s, ["schedule", "initialLearningRate", "decaySteps", "alpha", "warmupSteps", "warmupTarget"], path);
      return {
        schedule,
        initialLearningRate: finiteField(s, "initialLearningRate", path),
        decaySteps: count("decaySteps", 1),
        ...optionalField(s, "alpha", path, finiteField),
        ...optionalField(s, "warmupSteps", path, integerField),
        ...optionalField(s, "warmupTarget", path, finiteField),
      };
    default: {
      const impossible: never = schedule;
      throw new BadPayloadError(`${path}.schedule`, "a built-in schedule's name", impossible);
    }
  }
}

function parseClipping(value: unknown, path: string): GradientClipping {
  const clipping = objectAt(value, path);
  if (clipping["clipNorm"] !== undefined) {
    onlyKeys(clipping, ["clipNorm"], path);
    return { clipNorm: finiteField(clipping, "clipNorm", path) };
  }
  onlyKeys(clipping, ["clipValue"], path);
  return { clipValue: finiteField(clipping, "clipValue", path) };
}

function parseEarlyStopping(value: unknown, path: string): EarlyStoppingSpec {
  const spec = objectAt(value, path);
  onlyKeys(spec, ["monitor", "minDelta", "patience", "mode", "baseline", "restoreBestWeights", "startFromEpoch"], path);
  return {
    monitor: stringField(spec, "monitor", path),
    minDelta: finiteField(spec, "minDelta", path),
    patience: integerField(spec, "patience", path),
    mode: oneOf(spec["mode"], ["min", "max"], `${path}.mode`),
    ...optionalNumberField(spec, "baseline", path),
    restoreBestWeights: booleanField(spec, "restoreBestWeights", path),
    startFromEpoch: integerField(spec, "startFromEpoch", path),
  };
}

function parseValidation(value: unknown, path: string): NonNullable<WorkerTrainSpec["validation"]> {
  const validation = objectAt(value, path);
  onlyKeys(validation, ["data", "every", "steps"], path);
  return {
    data: parseData(validation["data"], `${path}.data`),
    every: parseValidationEvery(validation["every"], `${path}.every`),
    ...optionalField(validation, "steps", path, positiveIntegerField),
  };
}

function parseValidationEvery(value: unknown, path: string): ValidationEvery {
  const every = objectAt(value, path);
  onlyKeys(every, ["steps", "epochs"], path);
  if (every["steps"] === undefined && every["epochs"] === undefined) throw new BadPayloadError(path, "{ steps } and/or { epochs }", value);
  return { ...optionalField(every, "steps", path, positiveIntegerField), ...optionalField(every, "epochs", path, positiveIntegerField) };
}
