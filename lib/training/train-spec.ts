import type * as tf from "@tensorflow/tfjs";
import { RingbookError } from "../errors.js";
import type { OptimizerSpec } from "./optimizers.js";
import type { TrainingSchedule } from "./rank-loop.js";
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
  data: { source: string } | BuiltinData;
  loss: { name: string } | { source: string };
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
}

/** What a user passes to `cluster.train`. */
export interface TrainOptions<Args = any> {
  /** Builds the model on every worker: `({ tf, rank, worldSize, args }) => tf.LayersModel | { variables, loss, predict }`. */
  model: (context: TrainContext<Args>) => unknown;
  /** A built-in data set, or a function building the (whole) data set on each worker; ringbook shards it. */
  data: ((context: TrainContext<Args>) => unknown) | BuiltinData;
  /** Loss name (as in `model.compile`) or `(yTrue, yPred) => tensor`; ignored for custom models. @default "categoricalCrossentropy" */
  loss?: string | ((yTrue: tf.Tensor, yPred: tf.Tensor) => unknown);
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
  /** @default true */
  shuffle?: boolean;
  /** @default false */
  dropRemainder?: boolean;
  stepsPerEpoch?: number;
  /** Rank 0 writes a checkpoint here every `everySteps` steps (default 100) and at the end. */
  checkpoint?: string | { dir: string; everySteps?: number };
  /** Continue from a checkpoint directory written by an earlier run. */
  resumeFrom?: string;
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
   * training ends. `monitor` is `"loss"` until validation exists.
   * @example earlyStopping: { monitor: "loss", patience: 2, minDelta: 1e-3, restoreBestWeights: true }
   */
  earlyStopping?: EarlyStoppingOptions | boolean;
  /**
   * Functions run in the notebook as step and epoch records arrive: `onStepEnd(step, logs, run)`,
   * `onEpochEnd(epoch, logs, run)`, `onTrainEnd(logs)` (or an array of such objects). Returning
   * `false` or calling `run.stop()` stops the run at a step all ranks agree on (a few steps after
   * the callback's, since records arrive in batches). See {@link TrainCallbacks}.
   */
  callbacks?: TrainCallbacks | TrainCallbacks[];
  // ---- end of training controls -----------------------------------------------------------
}

/**
 * Checks `cluster.train` options on the owner before any worker computes, and turns them into a
 * {@link WorkerTrainSpec}. Every error names the bad value.
 */
export function parseTrainOptions(options: unknown, worldSize: number): WorkerTrainSpec {
  if (typeof options !== "object" || options === null) throw bad(`train options must be an object, got ${String(options)}`);
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
  const loss = o.loss ?? "categoricalCrossentropy";
  if (typeof loss !== "string" && typeof loss !== "function") throw bad(`loss must be a name or a function, got ${JSON.stringify(loss)}`);
  const knownLosses = ["categoricalCrossentropy", "binaryCrossentropy", "meanSquaredError", "meanAbsoluteError"];
  if (typeof loss === "string" && !knownLosses.includes(loss)) throw bad(`unknown loss ${JSON.stringify(loss)}; use one of ${knownLosses.join(", ")} or a function`);
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
    if (typeof c !== "object" || c === null || typeof c.dir !== "string" || c.dir === "") throw bad(`checkpoint must be a directory or { dir, everySteps }, got ${JSON.stringify(o.checkpoint)}`);
    schedule.checkpoint = { dir: c.dir, everySteps: positiveInteger("checkpoint.everySteps", c.everySteps, 100) };
  }
  if (o.resumeFrom !== undefined && (typeof o.resumeFrom !== "string" || o.resumeFrom === "")) throw bad(`resumeFrom must be a checkpoint directory, got ${JSON.stringify(o.resumeFrom)}`);
  const metricsIntervalMs = positiveInteger("metricsIntervalMs", o.metricsIntervalMs, 250);
  const live = o.live;
  if (live !== undefined && typeof live !== "boolean") {
    const valid =
      typeof live === "object" &&
      live !== null &&
      Object.entries(live).every(([key, value]) => (key === "title" ? typeof value === "string" : ["maxUpdatesPerSecond", "maxPoints"].includes(key) && typeof value === "number" && value > 0));
    if (!valid) throw bad(`live must be true, false or { maxUpdatesPerSecond, maxPoints, title }, got ${JSON.stringify(live)}`);
  }
  return {
    modelSource: o.model.toString(),
    data,
    loss: typeof loss === "string" ? { name: loss } : { source: loss.toString() },
    optimizer,
    schedule,
    seed,
    ...(typeof o.resumeFrom === "string" ? { resumeFrom: o.resumeFrom } : {}),
    args: o.args,
    metricsIntervalMs,
    controls,
  };
}

function parseData(value: unknown): WorkerTrainSpec["data"] {
  if (typeof value === "function") return { source: value.toString() };
  if (typeof value === "object" && value !== null && "builtin" in value) {
    const builtin = (value as { builtin: unknown }).builtin;
    if (builtin === "mnist" || builtin === "synthetic") return structuredClone(value) as BuiltinData;
    throw bad(`unknown built-in data set ${JSON.stringify(builtin)}; use "mnist" or "synthetic"`);
  }
  throw bad(`data must be a function ({ tf, rank, worldSize, args }) => Dataset or { builtin: "mnist" | "synthetic" }, got ${JSON.stringify(value)}`);
}

function bad(message: string): RingbookError {
  return new RingbookError("ERR_BAD_TRAIN_OPTIONS", message);
}
