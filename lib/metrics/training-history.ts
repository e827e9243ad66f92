import { downsampleIndices } from "./downsample.js";
import type { StepSummary } from "./step-summary.js";

/** Columns of a training history, one entry per kept step. */
export interface HistoryColumns {
  step: number[];
  epoch: number[];
  loss: number[];
  samplesPerSecond: number[];
  dataMs: number[];
  computeMs: number[];
  communicationMs: number[];
  applyMs: number[];
  /** Per rank: samples per second. */
  rankSamplesPerSecond: number[][];
}

/**
 * Every step summary of a run, kept as columns for plots and `result.history`. Memory grows by a
 * few dozen numbers per step (a 100,000-step run holds a few MB); views for display are
 * downsampled with {@link downsample}.
 */
export class TrainingHistory {
  readonly columns: HistoryColumns;
  readonly #worldSize: number;
  #startedAtMs: number | undefined;
  #lastAtMs: number | undefined;
  #samplesSeen = 0;

  constructor(worldSize: number) {
    this.#worldSize = worldSize;
    this.columns = {
      step: [],
      epoch: [],
      loss: [],
      samplesPerSecond: [],
      dataMs: [],
      computeMs: [],
      communicationMs: [],
      applyMs: [],
      rankSamplesPerSecond: Array.from({ length: worldSize }, () => []),
    };
  }

  get length(): number {
    return this.columns.step.length;
  }

  get worldSize(): number {
    return this.#worldSize;
  }

  /** Appends a step; `atMs` is when it ended (for wall-clock throughput and ETA), by default the step's own end time. */
  add(summary: StepSummary, atMs: number = summary.endedAtMs): void {
    const c = this.columns;
    c.step.push(summary.step);
    c.epoch.push(summary.epoch);
    c.loss.push(summary.loss);
    c.samplesPerSecond.push(summary.samplesPerSecond);
    c.dataMs.push(summary.dataMs);
    c.computeMs.push(summary.computeMs);
    c.communicationMs.push(summary.communicationMs);
    c.applyMs.push(summary.applyMs);
    for (let rank = 0; rank < this.#worldSize; rank++) {
      c.rankSamplesPerSecond[rank]!.push(summary.ranks.find((r) => r.rank === rank)?.samplesPerSecond ?? Number.NaN);
    }
    this.#startedAtMs ??= atMs - summary.stepMs;
    this.#lastAtMs = atMs;
    this.#samplesSeen += summary.samples;
  }

  /** Samples per second over the run's wall time so far (includes all overheads). */
  get wallSamplesPerSecond(): number {
    if (this.#startedAtMs === undefined || this.#lastAtMs === undefined || this.#lastAtMs <= this.#startedAtMs) return 0;
    return (this.#samplesSeen * 1000) / (this.#lastAtMs - this.#startedAtMs);
  }

  /** Milliseconds of wall time per step so far (for an ETA). */
  get wallMsPerStep(): number {
    if (this.#startedAtMs === undefined || this.#lastAtMs === undefined || this.length === 0) return 0;
    return (this.#lastAtMs - this.#startedAtMs) / this.length;
  }

  /** A copy of the columns thinned to at most `maxPoints` steps, chosen on the loss curve. */
  downsample(maxPoints: number): HistoryColumns {
    const c = this.columns;
    const keep = downsampleIndices(c.step, c.loss, maxPoints);
    const pick = (column: number[]): number[] => keep.map((i) => column[i]!);
    return {
      step: pick(c.step),
      epoch: pick(c.epoch),
      loss: pick(c.loss),
      samplesPerSecond: pick(c.samplesPerSecond),
      dataMs: pick(c.dataMs),
      computeMs: pick(c.computeMs),
      communicationMs: pick(c.communicationMs),
      applyMs: pick(c.applyMs),
      rankSamplesPerSecond: c.rankSamplesPerSecond.map(pick),
    };
  }
}
