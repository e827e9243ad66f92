/**
 * Learning-rate schedules: the learning rate of every optimizer step, as a function of the step
 * and epoch. A schedule is evaluated on every rank before each step from values every rank has
 * (the step and epoch numbers), so all ranks apply the same learning rate without talking.
 *
 * Two forms travel to the workers: the built-in schedules below (plain data, made by the exported
 * helpers, with Keras's formulas) and a function `({ step, epoch, ... }) => number`, which travels
 * as source text like the model function (it cannot close over notebook variables; write the
 * numbers into it, or use a built-in).
 */
import type * as tf from "@tensorflow/tfjs";
import { RingbookError } from "../errors.js";
import { isFusedOptimizer } from "./fused-optimizer.js";
import { suggestName } from "./option-names.js";

/** What a learning-rate function or schedule is evaluated with, before each optimizer step. */
export interface LearningRateContext {
  /** Optimizer steps taken before this one, from 0 (Keras's `optimizer.iterations`; counts across resumed runs). */
  step: number;
  /** The epoch this step belongs to, from 0. */
  epoch: number;
  /** Optimizer steps per epoch of this run (NaN for a stream of unknown size). */
  stepsPerEpoch: number;
  /** Optimizer steps of the whole schedule: `stepsPerEpoch × epochs` (NaN for a stream of unknown size). */
  totalSteps: number;
}

/**
 * A learning rate computed from the step: `({ step, epoch, stepsPerEpoch, totalSteps, args }) =>
 * number`, with the run's `args` (a function travels as source text: values from the notebook
 * reach it through `args`).
 */
export type LearningRateFunction<Args = any> = (context: LearningRateContext & { args: Args }) => number;

/** A built-in schedule (plain data: it travels to the workers as it is). Made by the helpers below. */
export type LearningRateSchedule =
  | { schedule: "constant"; learningRate: number }
  | { schedule: "linearWarmup"; learningRate: number; warmupSteps: number; initialLearningRate?: number; then?: LearningRateSchedule }
  | { schedule: "stepDecay"; initialLearningRate: number; decayRate: number; everySteps?: number; everyEpochs?: number }
  | { schedule: "exponentialDecay"; initialLearningRate: number; decaySteps: number; decayRate: number; staircase?: boolean }
  | { schedule: "cosineDecay"; initialLearningRate: number; decaySteps: number; alpha?: number; warmupSteps?: number; warmupTarget?: number };

/** What `optimizer.learningRate` accepts. */
export type LearningRate<Args = any> = number | LearningRateSchedule | LearningRateFunction<Args>;

/** A learning rate as it travels to the workers. */
export type LearningRateSpec = { kind: "builtin"; schedule: LearningRateSchedule } | { kind: "function"; source: string };

/**
 * The same learning rate at every step.
 * @example optimizer: { name: "adam", learningRate: constantLearningRate(1e-3) }
 */
export function constantLearningRate(learningRate: number): LearningRateSchedule {
  return checked({ schedule: "constant", learningRate });
}

/**
 * Linear warmup from `initialLearningRate` (default 0) to `learningRate` over `warmupSteps` steps
 * (step 0 uses `initialLearningRate`), then `learningRate`, or the schedule `then` evaluated with
 * the step counted from the warmup's end.
 * @example learningRate: linearWarmup({ learningRate: 1e-3, warmupSteps: 100, then: exponentialDecay({ initialLearningRate: 1e-3, decaySteps: 1000, decayRate: 0.5 }) })
 */
export function linearWarmup(options: { learningRate: number; warmupSteps: number; initialLearningRate?: number; then?: LearningRateSchedule }): LearningRateSchedule {
  return checked({ schedule: "linearWarmup", ...options });
}

/**
 * Multiplies the learning rate by `decayRate` every `everySteps` steps or every `everyEpochs`
 * epochs (PyTorch's StepLR): `initialLearningRate · decayRate^⌊step / everySteps⌋`.
 * @example learningRate: stepDecay({ initialLearningRate: 0.1, decayRate: 0.1, everyEpochs: 30 })
 */
export function stepDecay(options: { initialLearningRate: number; decayRate: number; everySteps?: number; everyEpochs?: number }): LearningRateSchedule {
  return checked({ schedule: "stepDecay", ...options });
}

/**
 * Keras's ExponentialDecay: `initialLearningRate · decayRate^(step / decaySteps)`, with the
 * exponent rounded down when `staircase` (default false).
 * @example learningRate: exponentialDecay({ initialLearningRate: 1e-2, decaySteps: 100, decayRate: 0.96 })
 */
export function exponentialDecay(options: { initialLearningRate: number; decaySteps: number; decayRate: number; staircase?: boolean }): LearningRateSchedule {
  return checked({ schedule: "exponentialDecay", ...options });
}

/**
 * Keras's CosineDecay: from `initialLearningRate` (or, with a warmup, from `warmupTarget`) down to
 * `alpha` times it along half a cosine over `decaySteps` steps, then constant. With `warmupSteps`
 * and `warmupTarget`, a linear warmup from `initialLearningRate` to `warmupTarget` comes first.
 * @example learningRate: cosineDecay({ initialLearningRate: 0, warmupTarget: 1e-3, warmupSteps: 100, decaySteps: 900 })
 */
export function cosineDecay(options: { initialLearningRate: number; decaySteps: number; alpha?: number; warmupSteps?: number; warmupTarget?: number }): LearningRateSchedule {
  return checked({ schedule: "cosineDecay", ...options });
}

/**
 * The learning rate a built-in schedule gives at `context` (what every rank computes before that
 * step; handy for plotting a schedule).
 * @example learningRateAt(cosineDecay({ initialLearningRate: 1, decaySteps: 10 }), { step: 5, epoch: 0, stepsPerEpoch: 10, totalSteps: 10 }) // 0.5
 */
export function learningRateAt(schedule: LearningRateSchedule, context: LearningRateContext): number {
  switch (schedule.schedule) {
    case "constant":
      return schedule.learningRate;
    case "linearWarmup": {
      const { warmupSteps, learningRate } = schedule;
      const initial = schedule.initialLearningRate ?? 0;
      if (context.step < warmupSteps) return initial + ((learningRate - initial) * context.step) / warmupSteps;
      return schedule.then === undefined ? learningRate : learningRateAt(schedule.then, { ...context, step: context.step - warmupSteps });
    }
    case "stepDecay": {
      const periods = schedule.everyEpochs !== undefined ? Math.floor(context.epoch / schedule.everyEpochs) : Math.floor(context.step / schedule.everySteps!);
      return schedule.initialLearningRate * Math.pow(schedule.decayRate, periods);
    }
    case "exponentialDecay": {
      const exponent = context.step / schedule.decaySteps;
      return schedule.initialLearningRate * Math.pow(schedule.decayRate, schedule.staircase === true ? Math.floor(exponent) : exponent);
    }
    case "cosineDecay": {
      const { initialLearningRate, decaySteps, warmupTarget } = schedule;
      const warmupSteps = schedule.warmupSteps ?? 0;
      const alpha = schedule.alpha ?? 0;
      if (warmupTarget !== undefined && context.step < warmupSteps) {
        return initialLearningRate + ((warmupTarget - initialLearningRate) * context.step) / warmupSteps;
      }
      const peak = warmupTarget ?? initialLearningRate;
      const decayStep = warmupTarget === undefined ? context.step : context.step - warmupSteps;
      const completed = Math.min(decayStep, decaySteps) / decaySteps;
      const cosine = 0.5 * (1 + Math.cos(Math.PI * completed));
      return peak * ((1 - alpha) * cosine + alpha);
    }
    default: {
      const impossible: never = schedule;
      throw bad(`unknown learning-rate schedule ${JSON.stringify(impossible)}`);
    }
  }
}

const fieldsOf: Record<LearningRateSchedule["schedule"], { required: readonly string[]; optional: readonly string[] }> = {
  constant: { required: ["learningRate"], optional: [] },
  linearWarmup: { required: ["learningRate", "warmupSteps"], optional: ["initialLearningRate", "then"] },
  stepDecay: { required: ["initialLearningRate", "decayRate"], optional: ["everySteps", "everyEpochs"] },
  exponentialDecay: { required: ["initialLearningRate", "decaySteps", "decayRate"], optional: ["staircase"] },
  cosineDecay: { required: ["initialLearningRate", "decaySteps"], optional: ["alpha", "warmupSteps", "warmupTarget"] },
};
const countKeys: ReadonlySet<string> = new Set(["warmupSteps", "everySteps", "everyEpochs", "decaySteps"]);

/**
 * Checks a built-in schedule (from a helper or written by hand), naming the bad field and value.
 * @param where how the message names it, e.g. `optimizer.learningRate`.
 */
export function parseLearningRateSchedule(value: unknown, where = "learningRate"): LearningRateSchedule {
  if (typeof value !== "object" || value === null) throw bad(`${where} must be a number, a schedule or a function, got ${JSON.stringify(value)}`);
  const o = value as Record<string, unknown>;
  const kinds = Object.keys(fieldsOf);
  const kind = o.schedule;
  if (typeof kind !== "string" || !kinds.includes(kind)) {
    throw bad(`${where}: unknown schedule ${JSON.stringify(kind)}${typeof kind === "string" ? suggestName(kind, kinds) : ""}; use one of ${kinds.join(", ")} (made by constantLearningRate, linearWarmup, stepDecay, exponentialDecay, cosineDecay)`);
  }
  const { required, optional } = fieldsOf[kind as LearningRateSchedule["schedule"]];
  const allowed = [...required, ...optional];
  for (const key of Object.keys(o)) {
    if (key !== "schedule" && !allowed.includes(key)) throw bad(`${where}: ${kind} has no option ${JSON.stringify(key)}${suggestName(key, allowed)}; it takes ${allowed.join(", ")}`);
  }
  for (const key of required) if (o[key] === undefined) throw bad(`${where}: ${kind} needs ${key}`);
  const parsed: Record<string, unknown> = { schedule: kind };
  for (const key of allowed) {
    const v = o[key];
    if (v === undefined) continue;
    if (key === "then") parsed[key] = parseLearningRateSchedule(v, `${where}.then`);
    else if (key === "staircase") {
      if (typeof v !== "boolean") throw bad(`${where}: staircase must be true or false, got ${JSON.stringify(v)}`);
      parsed[key] = v;
    } else if (countKeys.has(key)) {
      if (typeof v !== "number" || !Number.isInteger(v) || v < (key === "warmupSteps" ? 0 : 1)) throw bad(`${where}: ${kind}.${key} must be an integer ≥ ${key === "warmupSteps" ? 0 : 1}, got ${JSON.stringify(v)}`);
      parsed[key] = v;
    } else {
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw bad(`${where}: ${kind}.${key} must be a finite number ≥ 0, got ${JSON.stringify(v)}`);
      parsed[key] = v;
    }
  }
  if (kind === "stepDecay" && (parsed.everySteps === undefined) === (parsed.everyEpochs === undefined)) {
    throw bad(`${where}: stepDecay needs exactly one of everySteps and everyEpochs, got ${JSON.stringify(value)}`);
  }
  if (kind === "cosineDecay" && (parsed.warmupSteps ?? 0) !== 0 && parsed.warmupTarget === undefined) {
    throw bad(`${where}: cosineDecay with warmupSteps needs warmupTarget, the learning rate the warmup reaches (Keras's warmup_target)`);
  }
  if (kind === "linearWarmup" && parsed.warmupSteps === 0) throw bad(`${where}: linearWarmup.warmupSteps must be an integer ≥ 1, got 0`);
  return parsed as unknown as LearningRateSchedule;
}

/** Checks an `optimizer.learningRate` that is not a number: a built-in schedule or a function. */
export function parseLearningRate(value: unknown, where = "optimizer.learningRate"): LearningRateSpec {
  if (typeof value === "function") return { kind: "function", source: value.toString() };
  return { kind: "builtin", schedule: parseLearningRateSchedule(value, where) };
}

/**
 * The learning rate of each step on a worker: the built-in's formula, or the user's function
 * compiled from its source. Every value is checked (finite, ≥ 0), naming the step.
 */
export function compileLearningRate(spec: LearningRateSpec, tfModule: unknown, args: unknown): (context: LearningRateContext) => number {
  let evaluate: LearningRateFunction;
  if (spec.kind === "builtin") {
    evaluate = (context) => learningRateAt(spec.schedule, context);
  } else {
    let compiled: unknown;
    try {
      compiled = new Function("tf", `"use strict"; return (${spec.source}\n);`)(tfModule);
    } catch (error) {
      throw new RingbookError("ERR_BAD_FUNCTION", `the learning-rate function could not be compiled on the worker: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (typeof compiled !== "function") throw new RingbookError("ERR_BAD_FUNCTION", "the learning-rate source is not a function");
    evaluate = compiled as LearningRateFunction;
  }
  return (context) => {
    let value: unknown;
    try {
      value = evaluate(Object.freeze({ ...context, args }));
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      const hint = error instanceof ReferenceError ? " (the function runs on the workers from its source text: pass notebook values in args and read them as ({ step, args }) => ...)" : "";
      throw new RingbookError("ERR_BAD_LEARNING_RATE", `the learning-rate function threw at step ${context.step} (epoch ${context.epoch}): ${reason}${hint}`, { cause: error });
    }
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RingbookError("ERR_BAD_LEARNING_RATE", `the learning rate at step ${context.step} (epoch ${context.epoch}) is ${typeof value === "number" ? String(value) : JSON.stringify(value) ?? typeof value}; it must be a finite number ≥ 0`);
    }
    return value;
  };
}

/** tfjs's optimizers keep the learning rate in a (protected) field; SGD and momentum also in a scalar tensor. */
interface TfjsLearningRate {
  learningRate: number;
  setLearningRate?: (learningRate: number) => void;
}

/**
 * Sets the learning rate of the coming steps on a ringbook fused optimizer or on any of tfjs's
 * (sgd and momentum through their `setLearningRate`, which replaces their scalar; the others read
 * their `learningRate` field at every step).
 */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  if (isFusedOptimizer(optimizer)) {
    optimizer.setLearningRate(learningRate);
    return;
  }
  const target = optimizer as unknown as TfjsLearningRate;
  if (typeof target.learningRate !== "number") {
    throw new RingbookError("ERR_BAD_OPTIMIZER", `the ${optimizer.getClassName()} optimizer has no learning rate to schedule`);
  }
  if (typeof target.setLearningRate === "function") target.setLearningRate(learningRate);
  else target.learningRate = learningRate;
}

function checked(schedule: LearningRateSchedule): LearningRateSchedule {
  return parseLearningRateSchedule(schedule, schedule.schedule);
}

function bad(message: string): RingbookError {
  return new RingbookError("ERR_BAD_TRAIN_OPTIONS", message);
}
