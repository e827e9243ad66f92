/**
 * What a rank reports of every training step. Defined beside the summaries built from it, so that
 * `metrics` stays free of `training` (training produces records; metrics and plots read them).
 */

import type { Step } from "../ids.js";

/** One rank's record of one step: what the live plots and `run.metrics` are made of. */
export interface StepRecord {
  rank: number;
  epoch: number;
  /** Global step number, from 1 (counts across resumed runs). */
  step: Step;
  stepInEpoch: number;
  stepsInEpoch: number;
  /** Mean loss over the global batch. */
  loss: number;
  /** Mean loss over this rank's samples (NaN when it had none). */
  localLoss: number;
  samples: number;
  globalSamples: number;
  dataMs: number;
  computeMs: number;
  communicationMs: number;
  applyMs: number;
  stepMs: number;
  /** When the step ended, in milliseconds since the epoch (sub-millisecond, comparable across the processes of a host): runs are timed by the steps, not by when their records reach the notebook. */
  endedAtMs: number;
  /** This rank's samples divided by the whole step's wall time. */
  samplesPerSecond: number;
  /** The learning rate of the step (set by a schedule, or the optimizer's). */
  learningRate?: number;
}
