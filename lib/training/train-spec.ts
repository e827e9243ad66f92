import type * as tf from "@tensorflow/tfjs";
import { RingbookError } from "../errors.js";
import { describeValue, readSampleTree, toSampleTree, type SampleTree } from "../data/sample-arrays.js";
import { checkArgsCloneable } from "./args-check.js";
import { acceptedDataForms, isIndexedDataset } from "./data-forms.js";
import type { RingbookScope } from "./function-scope.js";
import type { LossWeights } from "./losses.js";
import { parseLossOptions, type LossOption, type WorkerLossSpec } from "./loss-options.js";
import { isMetricName, unknownMetric, type MetricName, type MetricSpec } from "./metrics.js";
import type { ValidationEvery } from "./validation.js";
import { checkKnownKeys, suggestName } from "./option-names.js";
import type { OptimizerSpec } from "./optimizers.js";
import type { TrainingSchedule } from "./rank-loop.js";

export type { LossOption, LossEntrySpec, WorkerLossSpec } from "./loss-options.js";
import { isTfDataset } from "./stream-data.js";
// Training controls (issue 13): schedules, clipping, accumulation, callbacks, early stopping.
import type { TrainCallbacks } from "./callback-options.js";
import type { EarlyStoppingOptions } from "./early-stopping.js";
import type { LearningRate } from "./learning-rate-schedule.js";
import { parseTrainingControls, type TrainingControlsSpec } from "./training-controls.js";

/** A built-in data set, built on every worker without shipping data. */
export type BuiltinData =
  | { builtin: "mnist"; split?: "train" | "test"; sampleShape?: number[] }
  | { builtin: "synthetic"; size?: number; features?: number; classes?: number; seed?: number };

/**
 * Everything a worker needs to train, in structured-clone form: functions travel as source text
 * (they are compiled on each worker; closures over notebook variables do not travel — pass values
 * in `args`).
 */
export interface WorkerTrainSpec {
  modelSource: string;
  /** A data function's source, a built-in data set, or `{ xs, ys }` arrays read on the owner. */
  data: { source: string } | BuiltinData | { inline: { xs: SampleTree; ys: SampleTree } };
  loss: WorkerLossSpec;
  /** Per-output loss weights, checked against the model's outputs on the workers. */
  lossWeights?: LossWeights;
  optimizer: OptimizerSpec;
  schedule: TrainingSchedule;
  /** Weight initialisation seed (data order uses `schedule.seed`). */
  seed: number;
  resumeFrom?: string;
  /** Values handed to the model and data functions as `args`. */
  args: unknown;
  /** How often ranks send their step records to the owner. */
  metricsIntervalMs: number;
  /** Learning-rate schedule, gradient clipping, early stopping (accumulation is in `schedule`). */
  controls: TrainingControlsSpec;
  /** Metrics by name or function source (every output's). */
  metrics?: MetricSpec[];
  /** Validation data (in the forms of `data`), when to evaluate it, and how many of its batches (all when unset). */
  validation?: { data: WorkerTrainSpec["data"]; every: ValidationEvery; steps?: number };
}

/**
 * What the model and data functions receive on each worker. Typed so that a cell's
 * `({ tf }) => tf.sequential(...)` type-checks without annotations.
 */
export interface TrainContext<Args = any> {
  tf: typeof tf;
  rank: number;
  worldSize: number;
  /** {@link TrainOptions.args}, structured-cloned to the worker. */
  args: Args;
  /**
   * ringbook's data helpers (`TensorDataset`, `ArrayDataset`, `mnistDigits`,
   * `syntheticClassification`); they are also in scope by name in model, data and loss functions.
   */
  ringbook: RingbookScope;
}

/** What a user passes to `cluster.train`. */
export interface TrainOptions<Args = any> {
  /** Builds the model on every worker: `({ tf, rank, worldSize, args }) => tf.LayersModel | { variables, loss, predict }`. */
  model: (context: TrainContext<Args>) => unknown;
  /**
   * The training data, in any of these forms; every one gives each global batch exactly as
   * single-process training sees it (ringbook shards each global batch by rank):
   * - `{ xs, ys }`: inputs and targets, each a tf.Tensor, a typed array, nested arrays, or
   *   `{ values, shape, dtype? }`, of dtype float32, int32 or bool, samples along the first axis;
   *   for several inputs or outputs, an array of them in the model's order or a map by input or
   *   output name. A flat typed array takes the shape of the model's input or output it feeds.
   *   Given here, the values are read once and sent to every worker.
   * - a function `({ tf, rank, worldSize, args, ringbook }) => data` run on every worker (it
   *   travels as source text: pass notebook values in `args`), returning `{ xs, ys }` (tensors it
   *   creates for it are read and disposed), a ringbook `Dataset` (`new TensorDataset({ xs, ys })`,
   *   `new ArrayDataset(...)`, `mnistDigits().train`: in scope by name there), or a
   *   `tf.data.Dataset` whose elements are single samples `{ xs, ys }`.
   * - `{ builtin: "mnist" | "synthetic", ... }`, built on every worker.
   *
   * In-memory data is shuffled each epoch by `seed` (unless `shuffle: false`). A tf.data.Dataset is
   * streamed: every worker reads it in order (without `.batch()`: ringbook batches by
   * `batchSize`), keeps its part of each global batch and never holds more than one global batch;
   * ringbook cannot shuffle it, so shuffle it with a seed (`dataset.shuffle(1000, "7")`) and leave
   * `shuffle` unset (`shuffle: true` is refused). Its size may be unknown (generators); an endless
   * one (`.repeat()`) needs `stepsPerEpoch`. Every epoch reads it again.
   *
   * @example
   * data: { xs: [[0, 0], [0, 1], [1, 0], [1, 1]], ys: [0, 1, 1, 0] }
   * @example
   * data: ({ tf, args }) => tf.data.generator(function* () { for (const [x, y] of args.pairs) yield { xs: tf.tensor(x), ys: tf.tensor(y) }; })
   */
  data: ((context: TrainContext<Args>) => unknown) | BuiltinData | { xs: SampleTree; ys: SampleTree };
  /**
   * Loss by name (`categoricalCrossentropy`, `sparseCategoricalCrossentropy` for class indices,
   * `binaryCrossentropy`, `meanSquaredError`, `meanAbsoluteError`) or `(yTrue, yPred) => tensor`.
   * For several outputs: one loss for all, an array (one per output, in the model's order) or a map
   * by output name; the outputs' mean losses are summed (each times its `lossWeights` entry).
   * Ignored for custom models.
   * @default "categoricalCrossentropy"
   */
  loss?: LossOption | readonly LossOption[] | { readonly [outputName: string]: LossOption };
  /**
   * Per-output loss weights for a model with several outputs (Keras's `loss_weights`): an array
   * in the model's output order (one per output) or a map by output name (outputs left out weigh
   * 1). The loss trained on (and `loss`/`val_loss` in the logs) is `Σ weight × output's mean loss`,
   * plus regularisation terms. A name the model has no output for is refused, naming its outputs.
   * Not for custom models, whose loss function weighs its own terms.
   * @default 1 for every output
   * @example loss: { price: "meanSquaredError", kind: "sparseCategoricalCrossentropy" }, lossWeights: { price: 0.5 }
   */
  lossWeights?: readonly number[] | { readonly [outputName: string]: number };
  /**
   * An optimizer name, or `{ name, ...hyperparameters }` with the hyperparameters of tfjs's
   * `tf.train.<name>` (sgd, momentum, adam, adamax, rmsprop, adagrad, adadelta); an unknown one is
   * refused with the closest name. `learningRate` may be a number, a built-in schedule
   * (`cosineDecay(...)`, `linearWarmup(...)`, ...) or a function `({ step, epoch, stepsPerEpoch,
   * totalSteps, args }) => number` evaluated on every rank before each optimizer step (`step` from
   * 0; like the model function it travels as source text, so notebook values come through `args`).
   * @default { name: "adam", learningRate: 0.001 }
   */
  optimizer?: (Omit<OptimizerSpec, "learningRate"> & { learningRate?: LearningRate<Args> }) | OptimizerSpec["name"];
  /**
   * Global batch size (all ranks together); must be divisible by the number of workers. With
   * `accumulationSteps: k`, this is the global size of one micro-batch, and each optimizer step
   * sees `k × batchSize` samples.
   */
  batchSize: number;
  /** @default 1 */
  epochs?: number;
  /** Seeds weight initialisation and data order. @default 0 */
  seed?: number;
  /** Shuffle in-memory data each epoch (by `seed`); a tf.data.Dataset is read in its own order. @default true for in-memory data */
  shuffle?: boolean;
  /** @default false */
  dropRemainder?: boolean;
  stepsPerEpoch?: number;
  /** Rank 0 writes a checkpoint here every `everySteps` steps (default 100) and at the end. */
  checkpoint?: string | { dir: string; everySteps?: number };
  /** Continue from a checkpoint directory written by an earlier run. */
  resumeFrom?: string;
  /**
   * Values the model, data and loss functions read as `args` on the workers: plain data (a
   * structured clone; tensors, functions and Datasets are refused: pass their values).
   */
  args?: Args;
  /**
   * Show the live progress line and plot in the notebook (when run from one): `false` to hide,
   * or options such as `{ maxUpdatesPerSecond: 2, maxPoints: 200, title: "run 3" }`.
   * @default true
   */
  live?: boolean | { maxUpdatesPerSecond?: number; maxPoints?: number; title?: string };
  /** @default 250 */
  metricsIntervalMs?: number;

  // ---- Training controls (issue 13) -------------------------------------------------------
  /**
   * Clips the gradients by their global L2 norm (over all variables together, Keras's
   * `global_clipnorm`): each is scaled by `clipNorm / max(norm, clipNorm)`. Applied to the
   * all-reduced gradients, so every rank clips identically. Not with `clipValue`.
   */
  clipNorm?: number;
  /** Clamps every gradient value to `[-clipValue, clipValue]` (Keras's `clipvalue`), after the all-reduce. Not with `clipNorm`. */
  clipValue?: number;
  /**
   * Gradient accumulation: each optimizer step sums the gradients of `k` consecutive micro-batches
   * of `batchSize` samples (locally, then one all-reduce), so it equals one step on a batch of
   * `k × batchSize` (weighted by samples, also for a short last group). `stepsPerEpoch` and step
   * numbers count optimizer steps.
   * @default 1
   */
  accumulationSteps?: number;
  /**
   * Stops training when the monitored epoch log stops improving (Keras's EarlyStopping), decided on
   * the workers at each epoch's end; `restoreBestWeights` puts the best epoch's weights back when
   * training ends. `monitor` is `"loss"`, a metric, or with `validationData` `"val_loss"` or
   * `"val_<metric>"`; for a model with several outputs also `"<output>_loss"`, `"<output>_<metric>"`
   * and their `val_` names (checked on the workers, which build the model).
   * @example earlyStopping: { monitor: "loss", patience: 2, minDelta: 1e-3, restoreBestWeights: true }
   */
  earlyStopping?: EarlyStoppingOptions | boolean;
  /**
   * Functions run in the notebook as step and epoch records arrive: `onStepEnd(step, logs, run)`,
   * `onEpochEnd(epoch, logs, run)`, `onTrainEnd(logs)` (or an array of such objects). Returning
   * `false` or calling `run.stop()` stops the run at a step all ranks agree on (a few steps after
   * the callback's, since records arrive in batches). `trainSingleProcess` runs them between its
   * steps and stops right after the step whose callback asked. See {@link TrainCallbacks}.
   */
  callbacks?: TrainCallbacks | TrainCallbacks[];

  // ---- Validation and metrics (issue 13) ---------------------------------------------------
  /**
   * Metrics by name (`accuracy` — categorical, sparse or binary as the output and targets say, as
   * Keras resolves it — `categoricalAccuracy`, `sparseCategoricalAccuracy`, `binaryAccuracy`,
   * `mse`/`meanSquaredError`, `mae`/`meanAbsoluteError`, `precision`, `recall`) or functions
   * `(yTrue, yPred) => tensor` (per sample or a batch mean; they travel as source text, named by
   * the function's name). Training metrics come from each step's forward pass and join the epoch
   * logs (summed over all ranks once per epoch); with `validationData`, `val_<metric>` too. For a
   * model with several outputs, every metric applies to each output, named `<output>_<metric>`, and
   * each output's own loss (unweighted, as Keras and tfjs log it) is logged as `<output>_loss`.
   * @example metrics: ["accuracy", "precision"]
   */
  metrics?: ReadonlyArray<MetricName | (string & Record<never, never>) | ((yTrue: tf.Tensor, yPred: tf.Tensor) => unknown)>;
  /**
   * Data to evaluate on, in any form `data` takes (in order, not shuffled): evaluated distributed
   * (each rank a shard of every batch of `batchSize`, one all-reduce per pass) in inference mode,
   * giving `val_loss` and `val_<metric>` in the epoch logs (callbacks, early stopping,
   * `run.epochs`) and every pass in `run.validations`.
   */
  validationData?: ((context: TrainContext<Args>) => unknown) | BuiltinData | { xs: SampleTree; ys: SampleTree };
  /**
   * When to evaluate `validationData`: every `steps` optimizer steps and/or at the end of every
   * `epochs`-th epoch (an epoch's logs carry `val_` values when it validated at its end).
   * @default { epochs: 1 }
   */
  validationEvery?: ValidationEvery;
  /**
   * Batches (of `batchSize`) to evaluate in each validation pass, from the start of
   * `validationData` every time (Keras's `validation_steps`, tfjs's `validationBatches`). Required
   * for an endless `tf.data.Dataset` (`.repeat()`, refused without it); a generator that never
   * ends has an unknown size that ringbook cannot tell from a finite one's, so give it too, or
   * validation never ends. Unset: the whole validation data.
   * @example validationData: ({ tf }) => tf.data.generator(endlessSamples), validationSteps: 20
   */
  validationSteps?: number;
  // ---- end of training controls -----------------------------------------------------------
}

/** The names of every option of {@link TrainOptions}: any other key is refused as a typo. */
export const trainOptionNames = [
  "model",
  "data",
  "loss",
  "lossWeights",
  "optimizer",
  "batchSize",
  "epochs",
  "seed",
  "shuffle",
  "dropRemainder",
  "stepsPerEpoch",
  "checkpoint",
  "resumeFrom",
  "args",
  "live",
  "metricsIntervalMs",
  // Training controls.
  "clipNorm",
  "clipValue",
  "accumulationSteps",
  "earlyStopping",
  "callbacks",
  // Validation and metrics.
  "metrics",
  "validationData",
  "validationEvery",
  "validationSteps",
] as const satisfies ReadonlyArray<keyof TrainOptions>;

/**
 * Checks `cluster.train` options on the owner before any worker computes, and turns them into a
 * {@link WorkerTrainSpec}. Every error names the bad value; an unknown option name is refused with
 * the closest known one.
 */
export function parseTrainOptions(options: unknown, worldSize: number): WorkerTrainSpec {
  if (typeof options !== "object" || options === null) throw bad(`train options must be an object, got ${String(options)}`);
  checkKnownKeys(options, trainOptionNames);
  const o = options as Record<string, unknown>;
  const positiveInteger = (name: string, value: unknown, fallback?: number): number => {
    const v = value ?? fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw bad(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
    return v;
  };
  if (typeof o.model !== "function") throw bad(`model must be a function that builds the model on each worker, got ${typeof o.model}`);
  const batchSize = positiveInteger("batchSize", o.batchSize);
  if (batchSize % worldSize !== 0) {
    throw bad(`batchSize ${batchSize} is not divisible by the ${worldSize} workers; use a multiple of ${worldSize}, e.g. ${Math.ceil(batchSize / worldSize) * worldSize}`);
  }
  const epochs = positiveInteger("epochs", o.epochs, 1);
  const seed = o.seed ?? 0;
  if (typeof seed !== "number" || !Number.isInteger(seed)) throw bad(`seed must be an integer, got ${JSON.stringify(seed)}`);
  const data = parseData(o.data);
  const { loss, lossWeights } = parseLossOptions(o);
  // Training controls (issue 13).
  const { optimizer, controls, accumulationSteps } = parseTrainingControls(o);
  const schedule: TrainingSchedule = { batchSize, epochs, seed, ...(accumulationSteps === 1 ? {} : { accumulationSteps }) };
  for (const flag of ["shuffle", "dropRemainder"] as const) {
    const value = o[flag];
    if (value !== undefined) {
      if (typeof value !== "boolean") throw bad(`${flag} must be true or false, got ${JSON.stringify(value)}`);
      schedule[flag] = value;
    }
  }
  if (o.stepsPerEpoch !== undefined) schedule.stepsPerEpoch = positiveInteger("stepsPerEpoch", o.stepsPerEpoch);
  if (o.checkpoint !== undefined) {
    const c = typeof o.checkpoint === "string" ? { dir: o.checkpoint } : (o.checkpoint as Record<string, unknown>);
    if (typeof c !== "object" || c === null || typeof c.dir !== "string" || c.dir === "") {
      if (typeof c === "object" && c !== null) checkKnownKeys(c, ["dir", "everySteps"], "checkpoint.");
      throw bad(`checkpoint must be a directory or { dir, everySteps }, got ${JSON.stringify(o.checkpoint)}`);
    }
    checkKnownKeys(c, ["dir", "everySteps"], "checkpoint.");
    schedule.checkpoint = { dir: c.dir, everySteps: positiveInteger("checkpoint.everySteps", c.everySteps, 100) };
  }
  if (o.resumeFrom !== undefined && (typeof o.resumeFrom !== "string" || o.resumeFrom === "")) throw bad(`resumeFrom must be a checkpoint directory, got ${JSON.stringify(o.resumeFrom)}`);
  const metricsIntervalMs = positiveInteger("metricsIntervalMs", o.metricsIntervalMs, 250);
  const live = o.live;
  if (live !== undefined && typeof live !== "boolean") {
    if (typeof live === "object" && live !== null) checkKnownKeys(live, ["maxUpdatesPerSecond", "maxPoints", "title"], "live.");
    const valid =
      typeof live === "object" &&
      live !== null &&
      Object.entries(live).every(([key, value]) => (key === "title" ? typeof value === "string" : ["maxUpdatesPerSecond", "maxPoints"].includes(key) && typeof value === "number" && value > 0));
    if (!valid) throw bad(`live must be true, false or { maxUpdatesPerSecond, maxPoints, title }, got ${JSON.stringify(live)}`);
  }
  if (o.args !== undefined) checkArgsCloneable(o.args);
  return {
    modelSource: o.model.toString(),
    data,
    loss,
    ...(lossWeights === undefined ? {} : { lossWeights }),
    optimizer,
    schedule,
    seed,
    ...(typeof o.resumeFrom === "string" ? { resumeFrom: o.resumeFrom } : {}),
    args: o.args,
    metricsIntervalMs,
    controls,
    ...parseValidationAndMetrics(o),
  };
}

/** The `metrics`, `validationData` and `validationEvery` options. */
function parseValidationAndMetrics(o: Record<string, unknown>): Pick<WorkerTrainSpec, "metrics" | "validation"> {
  const out: Pick<WorkerTrainSpec, "metrics" | "validation"> = {};
  if (o.metrics !== undefined) {
    if (!Array.isArray(o.metrics)) throw bad(`metrics must be an array of metric names or functions, e.g. ["accuracy"], got ${describeValue(o.metrics)}`);
    out.metrics = o.metrics.map((metric: unknown, i): MetricSpec => {
      if (isMetricName(metric)) return { name: metric };
      if (typeof metric === "function") return { source: metric.toString(), name: metric.name === "" ? `metric${i}` : metric.name };
      throw unknownMetric(metric, ` (metrics[${i}])`);
    });
    const names = out.metrics.map((metric) => metric.name);
    const repeated = names.find((name, i) => names.indexOf(name) !== i);
    if (repeated !== undefined) throw bad(`metrics names "${repeated}" twice; every metric needs its own name (name a function metric: function myMetric(yTrue, yPred) { ... })`);
  }
  for (const option of ["validationEvery", "validationSteps"]) {
    if (o[option] !== undefined && o.validationData === undefined) throw bad(`${option} is set but validationData is not; give validationData to evaluate`);
  }
  if (o.validationData !== undefined) {
    out.validation = { data: parseData(o.validationData, "validationData"), every: parseValidationEvery(o.validationEvery) };
    if (o.validationSteps !== undefined) out.validation.steps = positiveSteps("validationSteps", o.validationSteps);
  }
  return out;
}

/** A number of batches to evaluate: a positive integer. */
function positiveSteps(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) throw bad(`${name} must be a positive integer (batches to evaluate in each pass), got ${JSON.stringify(value) ?? String(value)}`);
  return value;
}

function parseValidationEvery(value: unknown): ValidationEvery {
  if (value === undefined) return { epochs: 1 };
  const shape = "validationEvery must be { steps: N } and/or { epochs: N } with positive integers";
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(`${shape}, got ${JSON.stringify(value)}`);
  checkKnownKeys(value, ["steps", "epochs"], "validationEvery.");
  const every: ValidationEvery = {};
  for (const key of ["steps", "epochs"] as const) {
    const n = (value as Record<string, unknown>)[key];
    if (n === undefined) continue;
    if (typeof n !== "number" || !Number.isInteger(n) || n <= 0) throw bad(`${shape}, got ${key}: ${JSON.stringify(n)}`);
    every[key] = n;
  }
  if (every.steps === undefined && every.epochs === undefined) throw bad(`${shape}, got ${JSON.stringify(value)}`);
  return every;
}

const builtinOptionNames = { mnist: ["builtin", "split", "sampleShape"], synthetic: ["builtin", "size", "features", "classes", "seed"] } as const;

/** What a worker needs for `cluster.evaluate` (structured-clone data). */
export interface WorkerEvaluateSpec {
  data: WorkerTrainSpec["data"];
  batchSize: number;
  /** Batches to evaluate (all when unset). */
  steps?: number;
  metrics: MetricSpec[];
  args: unknown;
}

/** `cluster.evaluate`'s options. */
export interface EvaluateOptions<Args = any> {
  /** Global batch size (all ranks together; each evaluates its shard of every batch). @default 32 × workers */
  batchSize?: number;
  /**
   * Batches to evaluate, from the data's start (Keras's `steps`); required for an endless
   * `tf.data.Dataset` (`.repeat()`) and for a generator that never ends. @default all of the data
   */
  steps?: number;
  /** Metrics by name or function, as in `train`. @default the last run's metrics */
  metrics?: TrainOptions["metrics"];
  /** Values a data function reads as `args`. @default the last run's args */
  args?: Args;
}

/** Checks `cluster.evaluate(data, options)` on the owner, before any worker computes. */
export function parseEvaluateOptions(data: unknown, options: unknown, worldSize: number, defaults: { metrics: MetricSpec[]; args: unknown }): WorkerEvaluateSpec {
  if (typeof options !== "object" || options === null || Array.isArray(options)) throw bad(`evaluate options must be an object { batchSize, steps, metrics, args }, got ${describeValue(options)}`);
  checkKnownKeys(options, ["batchSize", "steps", "metrics", "args"], "evaluate.");
  const o = options as Record<string, unknown>;
  const batchSize = o.batchSize ?? 32 * worldSize;
  if (typeof batchSize !== "number" || !Number.isInteger(batchSize) || batchSize <= 0) throw bad(`evaluate: batchSize must be a positive integer, got ${JSON.stringify(o.batchSize)}`);
  if (o.args !== undefined) checkArgsCloneable(o.args);
  const metrics = o.metrics === undefined ? defaults.metrics : (parseValidationAndMetrics({ metrics: o.metrics }).metrics ?? []);
  return {
    data: parseData(data, "data"),
    batchSize,
    ...(o.steps === undefined ? {} : { steps: positiveSteps("evaluate: steps", o.steps) }),
    metrics,
    args: o.args === undefined ? defaults.args : o.args,
  };
}

function parseData(value: unknown, name = "data"): WorkerTrainSpec["data"] {
  if (typeof value === "function") return { source: value.toString() };
  if (isTfDataset(value)) {
    throw bad(`${name} is a tf.data.Dataset, which cannot travel to the workers (it is code, not data): return it from a data function, e.g. data: ({ tf }) => tf.data.zip({ xs, ys })`);
  }
  if (isIndexedDataset(value)) {
    throw bad(`${name} is ${describeValue(value)}, a Dataset, which cannot travel to the workers (its samples are private fields): build it in a data function, e.g. ${name}: () => mnistDigits().train, or give { xs, ys }`);
  }
  if (typeof value === "object" && value !== null && "builtin" in value) {
    const builtin = (value as { builtin: unknown }).builtin;
    if (builtin === "mnist" || builtin === "synthetic") {
      checkKnownKeys(value, builtinOptionNames[builtin], `${name} (${builtin}).`);
      return structuredClone(value) as BuiltinData;
    }
    throw bad(`unknown built-in data set ${JSON.stringify(builtin)}${typeof builtin === "string" ? suggestName(builtin, ["mnist", "synthetic"]) : ""}; use "mnist" or "synthetic"`);
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value) && ("xs" in value || "ys" in value)) {
    checkKnownKeys(value, ["xs", "ys"], `${name}.`);
    if (!("xs" in value) || !("ys" in value)) throw bad(`${name} needs both xs (the inputs) and ys (the targets); it has only ${"xs" in value ? "xs" : "ys"}`);
    // Read here: tensors and nested arrays become flat typed arrays with their shape, checked once.
    return { inline: { xs: toSampleTree(readSampleTree(value.xs, `${name}.xs`)), ys: toSampleTree(readSampleTree(value.ys, `${name}.ys`)) } };
  }
  throw bad(`${name} is ${describeValue(value)}; give a function ({ tf, rank, worldSize, args }) => data, or the data itself. Accepted: ${acceptedDataForms}`);
}

function bad(message: string): RingbookError {
  return new RingbookError("ERR_BAD_TRAIN_OPTIONS", message);
}
