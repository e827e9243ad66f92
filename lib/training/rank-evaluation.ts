/**
 * The metrics and validation of a run on one rank: training metrics are added up from each step's
 * forward pass and all-reduced once per epoch; validation runs distributed every N steps and/or at
 * epoch ends. All ranks make the same calls at the same steps, so their collectives match.
 */
import type { AllReduceSum } from "./gradient-step.js";
import { MetricSums, type ResolvedMetric } from "./metrics.js";
import type { Trainable } from "./trainable.js";
import type { TrainingData } from "./training-data.js";
import { evaluateOnRanks, type ValidationEvery, type ValidationRecord } from "./validation.js";

/**
 * A rank's metrics and validation during training; the rank loop calls {@link afterStep} after
 * every optimizer step and {@link epochEnd} after every epoch's last.
 * @example
 * const evaluation = new RankEvaluation({ trainable, metrics, allReduceSum, validation: { data, every: { epochs: 1 } } });
 * const logs = await evaluation.epochEnd(epoch, step); // { accuracy, val_loss, val_accuracy }
 */
export class RankEvaluation {
  /** The training metrics of the current epoch on this rank; absent without metrics. */
  readonly trainSums: MetricSums | undefined;
  readonly #trainable: Trainable;
  readonly #metrics: readonly ResolvedMetric[];
  readonly #validation: { data: TrainingData; every: ValidationEvery } | undefined;
  readonly #allReduceSum: AllReduceSum;
  readonly #onValidation: ((record: ValidationRecord) => void) | undefined;
  /** The last validation's step and logs, to reuse at an epoch end on the same step. */
  #last: { step: number; logs: Record<string, number> } | undefined;

  constructor(args: {
    trainable: Trainable;
    metrics: readonly ResolvedMetric[];
    validation?: { data: TrainingData; every: ValidationEvery };
    allReduceSum: AllReduceSum;
    onValidation?: (record: ValidationRecord) => void;
  }) {
    this.#trainable = args.trainable;
    this.#metrics = args.metrics;
    this.#validation = args.validation;
    this.#allReduceSum = args.allReduceSum;
    this.#onValidation = args.onValidation;
    this.trainSums = args.metrics.length === 0 ? undefined : new MetricSums(args.metrics);
  }

  /** After each optimizer step (global `step` from 1): validates when `validationEvery.steps` says so. */
  async afterStep(epoch: number, step: number): Promise<void> {
    const every = this.#validation?.every.steps;
    if (every !== undefined && step % every === 0) await this.#validate(epoch, step);
  }

  /**
   * At an epoch's end: the training metrics of the epoch (all-reduced) and, when due, validation
   * logs, to join the epoch's logs.
   */
  async epochEnd(epoch: number, step: number): Promise<Record<string, number>> {
    const logs: Record<string, number> = {};
    if (this.trainSums !== undefined) {
      const reduced = await this.#allReduceSum(this.trainSums.payload);
      Object.assign(logs, this.trainSums.logs(reduced, { withLoss: false }));
      this.trainSums.reset();
    }
    const everyEpochs = this.#validation?.every.epochs;
    if (everyEpochs !== undefined && (epoch + 1) % everyEpochs === 0) {
      Object.assign(logs, this.#last?.step === step ? this.#last.logs : await this.#validate(epoch, step));
    }
    return logs;
  }

  async #validate(epoch: number, step: number): Promise<Record<string, number>> {
    const validation = this.#validation!;
    const { logs, samples } = await evaluateOnRanks({ trainable: this.#trainable, data: validation.data, metrics: this.#metrics, allReduceSum: this.#allReduceSum, prefix: "val_" });
    this.#last = { step, logs };
    this.#onValidation?.({ epoch, step, logs, samples });
    return logs;
  }
}
