import type tf from "../tfjs.cjs";
import { disposeBatch } from "../data/tensor-tree.js";
import { saveCheckpoint, type TrainingPosition } from "./checkpoint.js";
import { GradientExchange } from "./gradient-exchange.js";
import { dataParallelStep, type AllReduceSum } from "./gradient-step.js";
import type { Trainable } from "./trainable.js";
import type { EpochBatches, RankBatch, TrainingData } from "./training-data.js";

/** One rank's record of one step: what the live plots and `run.metrics` are made of. */
export interface StepRecord {
  rank: number;
  epoch: number;
  /** Global step number, from 1 (counts across resumed runs). */
  step: number;
  stepInEpoch: number;
  /** Steps in this epoch; NaN while a stream of unknown size has not ended yet. */
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
}

/** The schedule of a run, identical on every rank. */
export interface TrainingSchedule {
  batchSize: number;
  epochs: number;
  seed: number;
  /** Shuffle in-memory data each epoch; unset for a stream (which ringbook reads in order). @default true */
  shuffle?: boolean;
  /** @default false */
  dropRemainder?: boolean;
  /** Stop each epoch after this many steps (quick experiments). */
  stepsPerEpoch?: number;
  /** Rank 0 writes a checkpoint here every `everySteps` steps and at the end. */
  checkpoint?: { dir: string; everySteps: number };
}

/** The epoch training starts in, already opened (and its first batch read) by the caller. */
export interface OpenedEpoch {
  batches: EpochBatches;
  /** The batch read from `batches` (the start step's), or `undefined` when the epoch had none. */
  first: RankBatch | undefined;
}

/**
 * The training loop of one rank. All ranks run it with the same schedule and data; they meet
 * once per step in the all-reduce. A stop request on any rank is voted through that all-reduce, so
 * all ranks stop after the same step with identical weights.
 */
export async function trainOnRank(args: {
  rank: number;
  worldSize: number;
  model: unknown;
  trainable: Trainable;
  optimizer: tf.Optimizer;
  /** This rank's view of the data (see training-data.ts). */
  data: TrainingData;
  schedule: TrainingSchedule;
  allReduceSum: AllReduceSum;
  start?: TrainingPosition;
  /** The start epoch when the caller opened it already (to check its first batch before training). */
  opened?: OpenedEpoch;
  shouldStop: () => boolean;
  onStep: (record: StepRecord) => void;
}): Promise<{ position: TrainingPosition; stopped: boolean }> {
  const { rank, trainable, optimizer, data, schedule } = args;
  const exchange = new GradientExchange(trainable.variables);
  let position: TrainingPosition = args.start ?? { epoch: 0, stepInEpoch: 0, globalStep: 0 };
  let stepsSinceCheckpoint = 0;
  const checkpointNow = async (): Promise<void> => {
    if (rank !== 0 || schedule.checkpoint === undefined) return;
    await saveCheckpoint({ dir: schedule.checkpoint.dir, model: args.model, variables: trainable.variables, optimizer, position });
    stepsSinceCheckpoint = 0;
  };
  let opened = args.opened;
  for (let epoch = position.epoch; epoch < schedule.epochs; epoch++) {
    const firstStep = epoch === position.epoch ? position.stepInEpoch : 0;
    const batches = opened?.batches ?? data.openEpoch(epoch, firstStep);
    // A batch read ahead: the caller's first, or (in a stream of unknown length) the next one,
    // read to learn whether the step before it was the epoch's last.
    let ahead: { batch: RankBatch | undefined; dataMs: number } | undefined = opened === undefined ? undefined : { batch: opened.first, dataMs: 0 };
    opened = undefined;
    for (let stepInEpoch = firstStep; ; stepInEpoch++) {
      const stepStart = performance.now();
      const batch = ahead === undefined ? await batches.next() : ahead.batch;
      const dataMs = performance.now() - stepStart + (ahead?.dataMs ?? 0);
      ahead = undefined;
      if (batch === undefined) break;
      let outcome;
      try {
        outcome = await dataParallelStep({
          trainable,
          exchange,
          optimizer,
          xs: batch.xs,
          ys: batch.ys,
          globalSamples: batch.globalSamples,
          allReduceSum: args.allReduceSum,
          stopVote: args.shouldStop(),
        });
      } finally {
        disposeBatch(batch);
      }
      const stepMs = performance.now() - stepStart;
      let last: boolean;
      if (batches.steps !== undefined) {
        last = stepInEpoch + 1 >= batches.steps;
      } else if (outcome.stop) {
        last = false; // a resumed run finds the epoch's end by reading
      } else {
        const readStart = performance.now();
        const next = await batches.next();
        ahead = { batch: next, dataMs: performance.now() - readStart };
        last = next === undefined;
      }
      position = last
        ? { epoch: epoch + 1, stepInEpoch: 0, globalStep: position.globalStep + 1 }
        : { epoch, stepInEpoch: stepInEpoch + 1, globalStep: position.globalStep + 1 };
      args.onStep({
        rank,
        epoch,
        step: position.globalStep,
        stepInEpoch,
        stepsInEpoch: batches.steps ?? (last ? stepInEpoch + 1 : Number.NaN),
        loss: outcome.globalLoss,
        localLoss: outcome.localLoss,
        samples: outcome.localSamples,
        globalSamples: batch.globalSamples,
        dataMs,
        ...outcome.timings,
        stepMs,
        endedAtMs: performance.timeOrigin + performance.now(),
        samplesPerSecond: stepMs > 0 ? (outcome.localSamples * 1000) / stepMs : 0,
      });
      stepsSinceCheckpoint++;
      if (schedule.checkpoint !== undefined && stepsSinceCheckpoint >= schedule.checkpoint.everySteps) await checkpointNow();
      if (outcome.stop) {
        if (ahead?.batch !== undefined) disposeBatch(ahead.batch);
        if (stepsSinceCheckpoint > 0) await checkpointNow();
        return { position, stopped: true };
      }
      if (last) break;
    }
  }
  if (stepsSinceCheckpoint > 0) await checkpointNow();
  return { position, stopped: false };
}
