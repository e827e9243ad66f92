/**
 * What every rank knows at the end of an epoch: the epoch's mean loss over its samples (from the
 * global losses of its steps, identical on every rank, so ranks agree on it without talking). Early
 * stopping decides on these logs on the workers; the notebook's `onEpochEnd` callbacks get them.
 */

/**
 * The logs of an epoch, named as in Keras's `logs`: `loss`, each training metric (`accuracy`, ...),
 * `val_loss` and `val_<metric>` when the epoch validated at its end, and the learning rate of its
 * last step.
 */
export type EpochLogs = { loss: number; learningRate?: number } & Record<string, number>;

/** One epoch's end, sent by rank 0 (all ranks have the same) to the owner. */
export interface EpochRecord {
  /** The epoch that ended, from 0. */
  epoch: number;
  /** The global step that ended it (counts across resumed runs). */
  step: number;
  /** Steps of this epoch trained in this run (fewer than the epoch's when the run resumed inside it). */
  steps: number;
  /** Samples of those steps. */
  samples: number;
  logs: EpochLogs;
  /** When the epoch ended, in milliseconds since the epoch (as StepRecord.endedAtMs). */
  endedAtMs: number;
}

/**
 * The names an epoch's logs will have in a run with these (raw) train options, for checking
 * `earlyStopping.monitor` before any worker computes.
 */
export function epochLogNames(options: Record<string, unknown>): string[] {
  const metrics = Array.isArray(options.metrics)
    ? options.metrics.flatMap((metric: unknown, i) => (typeof metric === "string" ? [metric] : typeof metric === "function" ? [metric.name === "" ? `metric${i}` : metric.name] : []))
    : [];
  const every = options.validationEvery;
  const validatesAtEpochEnd = options.validationData !== undefined && (every === undefined || (typeof every === "object" && every !== null && "epochs" in every));
  return ["loss", ...metrics, ...(validatesAtEpochEnd ? ["val_loss", ...metrics.map((name) => `val_${name}`)] : [])];
}

/**
 * The names an epoch's logs have on a rank that built the model: `loss`, each resolved metric's
 * (`<output>_<metric>` and `<output>_loss` for several outputs), and their `val_` names when the
 * run validates at epoch ends.
 */
export function epochLogNamesOf(metrics: ReadonlyArray<{ logName: string }>, validationEvery: { epochs?: number } | undefined): string[] {
  const names = ["loss", ...metrics.map((metric) => metric.logName)];
  return validationEvery?.epochs === undefined ? names : [...names, ...names.map((name) => `val_${name}`)];
}

/** The mean loss of an epoch's steps, each weighted by its samples (Keras's epoch `loss`). */
export class EpochLossMean {
  #weightedSum = 0;
  #samples = 0;
  #steps = 0;

  add(loss: number, samples: number): void {
    this.#weightedSum += loss * samples;
    this.#samples += samples;
    this.#steps++;
  }

  get mean(): number {
    return this.#samples === 0 ? Number.NaN : this.#weightedSum / this.#samples;
  }

  get samples(): number {
    return this.#samples;
  }

  get steps(): number {
    return this.#steps;
  }
}
