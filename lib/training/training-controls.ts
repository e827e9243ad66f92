/**
 * The training controls of `cluster.train` (learning-rate schedule, gradient clipping, gradient
 * accumulation, early stopping): parsed on the owner into plain data that travels with the
 * worker spec, and run on each rank by {@link RankControls}. Every decision is made from values all
 * ranks share (step and epoch numbers, all-reduced gradients, global losses), so the ranks agree
 * without extra messages.
 */
import { RingbookError } from "../errors.js";
import { parseCallbackOptions } from "./callback-options.js";
import { EarlyStopping, parseEarlyStopping, type EarlyStoppingOutcome, type EarlyStoppingSpec, type WeightStore } from "./early-stopping.js";
import { epochLogNames, type EpochLogs } from "./epoch-record.js";
import { parseGradientClipping, type GradientClipping } from "./gradient-clipping.js";
import { compileLearningRate, parseLearningRate, setLearningRate, type LearningRateContext, type LearningRateSpec } from "./learning-rate-schedule.js";
import { parseOptimizerSpec, resolveOptimizerSpec, type OptimizerSpec } from "./optimizers.js";
import type * as tf from "@tensorflow/tfjs";

/** The controls as they travel to the workers (structured-clone data). */
export interface TrainingControlsSpec {
  /** A schedule or function for the learning rate; absent: the optimizer's constant one. */
  learningRate?: LearningRateSpec;
  clipping?: GradientClipping;
  earlyStopping?: EarlyStoppingSpec;
}

/**
 * Reads `optimizer` (whose `learningRate` may be a schedule or a function), `clipNorm`,
 * `clipValue`, `accumulationSteps`, `earlyStopping` and `callbacks` from the train options.
 */
export function parseTrainingControls(o: Record<string, unknown>): { optimizer: OptimizerSpec; controls: TrainingControlsSpec; accumulationSteps: number } {
  const optionValue = o.optimizer ?? { name: "adam", learningRate: 0.001 };
  let learningRate: LearningRateSpec | undefined;
  let optimizerValue = optionValue;
  if (typeof optionValue === "object" && optionValue !== null && "learningRate" in optionValue) {
    const { learningRate: rate, ...rest } = optionValue as Record<string, unknown>;
    if (rate !== undefined && typeof rate !== "number") {
      learningRate = parseLearningRate(rate);
      // The optimizer is made with its default rate; the schedule sets the rate before every step.
      optimizerValue = rest;
    }
  }
  const optimizer = parseOptimizerSpec(optimizerValue);
  const clipping = parseGradientClipping(o);
  const steps = o.accumulationSteps ?? 1;
  if (typeof steps !== "number" || !Number.isInteger(steps) || steps < 1) {
    throw new RingbookError("ERR_BAD_TRAIN_OPTIONS", `accumulationSteps must be a positive integer (micro-batches per optimizer step), got ${JSON.stringify(o.accumulationSteps)}`);
  }
  const earlyStopping = o.earlyStopping === undefined || o.earlyStopping === false ? undefined : parseEarlyStopping(o.earlyStopping, epochLogNames(o));
  if (o.callbacks !== undefined) parseCallbackOptions(o.callbacks);
  return {
    optimizer,
    controls: {
      ...(learningRate === undefined ? {} : { learningRate }),
      ...(clipping === undefined ? {} : { clipping }),
      ...(earlyStopping === undefined ? {} : { earlyStopping }),
    },
    accumulationSteps: steps,
  };
}

/** The controls on one rank: every rank makes the same calls with the same values. */
export class RankControls {
  /** How the all-reduced gradients are clipped, if at all. */
  readonly clipping: GradientClipping | undefined;
  readonly #optimizer: tf.Optimizer;
  readonly #schedule: ((context: LearningRateContext) => number) | undefined;
  readonly #earlyStopping: EarlyStopping | undefined;
  #learningRate: number;

  constructor(spec: TrainingControlsSpec, options: { optimizer: tf.Optimizer; optimizerSpec: OptimizerSpec; weights: WeightStore; tf: unknown; args: unknown }) {
    this.clipping = spec.clipping;
    this.#optimizer = options.optimizer;
    this.#schedule = spec.learningRate === undefined ? undefined : compileLearningRate(spec.learningRate, options.tf, options.args);
    this.#earlyStopping = spec.earlyStopping === undefined ? undefined : new EarlyStopping(spec.earlyStopping, options.weights);
    this.#learningRate = resolveOptimizerSpec(options.optimizerSpec).learningRate;
  }

  /** Before each optimizer step: sets the scheduled learning rate; returns the rate of this step. */
  beforeStep(context: LearningRateContext): number {
    if (this.#schedule !== undefined) {
      const rate = this.#schedule(context);
      if (rate !== this.#learningRate) setLearningRate(this.#optimizer, rate);
      this.#learningRate = rate;
    }
    return this.#learningRate;
  }

  /** At an epoch's end, with its logs: true when early stopping ends training here. */
  epochEnd(epoch: number, logs: EpochLogs): boolean {
    return this.#earlyStopping?.onEpochEnd(epoch, logs) ?? false;
  }

  /** When training ends: restores the best weights when early stopping says so. */
  trainEnd(): void {
    this.#earlyStopping?.onTrainEnd();
  }

  /** Early stopping's outcome, when it was on. */
  get earlyStopping(): EarlyStoppingOutcome | undefined {
    return this.#earlyStopping?.outcome;
  }
}
