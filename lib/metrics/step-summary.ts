import type { StepRecord } from "./step-record.js";

/** Per-rank part of a {@link StepSummary}. */
export interface RankStepTimings {
  rank: number;
  samples: number;
  samplesPerSecond: number;
  dataMs: number;
  computeMs: number;
  communicationMs: number;
  applyMs: number;
  stepMs: number;
}

/** One training step across all ranks. */
export interface StepSummary {
  step: number;
  epoch: number;
  stepInEpoch: number;
  /** Steps in this epoch; NaN while a tf.data.Dataset of unknown size has not ended yet. */
  stepsInEpoch: number;
  /** Mean loss over the global batch. */
  loss: number;
  /** Samples of the global batch. */
  samples: number;
  /** The slowest rank's step time: the step's wall time, since ranks meet in the all-reduce. */
  stepMs: number;
  /** Global batch divided by the slowest rank's step time. */
  samplesPerSecond: number;
  /** When the last rank finished the step (Date.now() milliseconds). */
  endedAtMs: number;
  /** The learning rate of the step, when the ranks reported it. */
  learningRate?: number;
  /** Means over ranks, in milliseconds. */
  dataMs: number;
  computeMs: number;
  communicationMs: number;
  applyMs: number;
  ranks: RankStepTimings[];
}

/**
 * Joins the step records that ranks report separately (and in any order) into one summary per step,
 * emitted once every rank's record for that step has arrived. Holds at most the steps still
 * incomplete, so memory stays bounded by how far ranks drift apart.
 */
export class StepAggregator {
  readonly #worldSize: number;
  readonly #pending = new Map<number, StepRecord[]>();

  constructor(worldSize: number) {
    this.#worldSize = worldSize;
  }

  /** Adds one rank's record; returns the summary when it completes its step. */
  add(record: StepRecord): StepSummary | undefined {
    const records = this.#pending.get(record.step) ?? [];
    if (records.some((r) => r.rank === record.rank)) return undefined; // duplicate delivery
    records.push(record);
    if (records.length < this.#worldSize) {
      this.#pending.set(record.step, records);
      return undefined;
    }
    this.#pending.delete(record.step);
    return summarizeStep(records);
  }

  /** Steps that some rank has reported but not all (e.g. after a rank died). */
  get incompleteSteps(): number[] {
    return [...this.#pending.keys()].sort((a, b) => a - b);
  }
}

/** Summary of one step from every rank's record of it. */
export function summarizeStep(records: readonly StepRecord[]): StepSummary {
  const sorted = [...records].sort((a, b) => a.rank - b.rank);
  const first = sorted[0]!;
  const mean = (pick: (r: StepRecord) => number): number => sorted.reduce((sum, r) => sum + pick(r), 0) / sorted.length;
  const stepMs = Math.max(...sorted.map((r) => r.stepMs));
  return {
    step: first.step,
    epoch: first.epoch,
    stepInEpoch: first.stepInEpoch,
    stepsInEpoch: first.stepsInEpoch,
    loss: first.loss,
    samples: first.globalSamples,
    stepMs,
    samplesPerSecond: stepMs > 0 ? (first.globalSamples * 1000) / stepMs : 0,
    endedAtMs: Math.max(...sorted.map((r) => r.endedAtMs)),
    ...(first.learningRate === undefined ? {} : { learningRate: first.learningRate }),
    dataMs: mean((r) => r.dataMs),
    computeMs: mean((r) => r.computeMs),
    communicationMs: mean((r) => r.communicationMs),
    applyMs: mean((r) => r.applyMs),
    ranks: sorted.map((r) => ({
      rank: r.rank,
      samples: r.samples,
      samplesPerSecond: r.samplesPerSecond,
      dataMs: r.dataMs,
      computeMs: r.computeMs,
      communicationMs: r.communicationMs,
      applyMs: r.applyMs,
      stepMs: r.stepMs,
    })),
  };
}
