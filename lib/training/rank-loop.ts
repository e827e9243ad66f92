import type tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { disposeBatch } from "../data/tensor-tree.js";
import { saveCheckpoint, type TrainingPosition } from "./checkpoint.js";
import { EpochLossMean, type EpochRecord } from "./epoch-record.js";
import { GradientExchange } from "./gradient-exchange.js";
import { dataParallelStep, type AllReduceSum } from "./gradient-step.js";
import type { RankEvaluation } from "./rank-evaluation.js";
import type { RankControls } from "./training-controls.js";
import type { Trainable } from "./trainable.js";
import type { StepRecord } from "../metrics/step-record.js";
import type { EpochBatches, RankBatch, TrainingData } from "./training-data.js";
import { toStep } from "../ids.js";

// StepRecord lives with the metrics that summarise it (metrics must not import training).
export type { StepRecord } from "../metrics/step-record.js";

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
  /** Micro-batches (of `batchSize`) per optimizer step; steps count optimizer steps. @default 1 */
  accumulationSteps?: number;
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
  /** Learning-rate schedule, clipping and early stopping. */
  controls?: RankControls;
  /** Training metrics and validation; their logs join each epoch's. */
  evaluation?: RankEvaluation;
  /** After each epoch's last step (and before early stopping decides on it). */
  onEpochEnd?: (record: EpochRecord) => void;
  /**
   * Awaited after each step, once its record (and its epoch's end) went out: true ends training
   * after this very step. Only in a world of one (`trainSingleProcess`'s callbacks): a rank's own
   * decision would leave the ranks of a larger world waiting for each other in the all-reduce.
   */
  betweenSteps?: () => Promise<boolean>;
}): Promise<{ position: TrainingPosition; stopped: boolean; earlyStopped: boolean }> {
  const { rank, trainable, optimizer, data, schedule } = args;
  if (args.betweenSteps !== undefined && args.worldSize !== 1) {
    throw new RingbookError("ERR_TRAIN_SETUP", `betweenSteps stops one rank without the others' agreement; it needs a world of one, not ${args.worldSize} ranks`);
  }
  const controls = args.controls;
  // One optimizer step per group of `accumulationSteps` micro-batches; the data counts micro-batches.
  const perStep = schedule.accumulationSteps ?? 1;
  const exchange = new GradientExchange(trainable.variables);
  let position: TrainingPosition = args.start ?? { epoch: 0, stepInEpoch: 0, globalStep: 0 };
  let stepsSinceCheckpoint = 0;
  const checkpointNow = async (): Promise<void> => {
    if (rank !== 0 || schedule.checkpoint === undefined) return;
    await saveCheckpoint({ dir: schedule.checkpoint.dir, model: args.model, variables: trainable.variables, optimizer, position });
    stepsSinceCheckpoint = 0;
  };
  /** Reports an epoch's end; true when early stopping ends training here. */
  const epochEnded = async (epoch: number, step: number, loss: EpochLossMean, learningRate: number | undefined): Promise<boolean> => {
    // Training metrics and validation (val_loss, ...) join the logs before early stopping reads them.
    const evaluated = (await args.evaluation?.epochEnd(epoch, step)) ?? {};
    const logs = { loss: loss.mean, ...evaluated, ...(learningRate === undefined ? {} : { learningRate }) };
    args.onEpochEnd?.({ epoch, step, steps: loss.steps, samples: loss.samples, logs, endedAtMs: performance.timeOrigin + performance.now() });
    return controls?.epochEnd(epoch, logs) ?? false;
  };
  const finish = async (stopped: boolean, earlyStopped: boolean): Promise<{ position: TrainingPosition; stopped: boolean; earlyStopped: boolean }> => {
    controls?.trainEnd();
    if (stepsSinceCheckpoint > 0 || controls?.earlyStopping?.restoredBestWeights === true) await checkpointNow();
    return { position, stopped, earlyStopped };
  };
  let opened = args.opened;
  for (let epoch = position.epoch; epoch < schedule.epochs; epoch++) {
    const firstStep = epoch === position.epoch ? position.stepInEpoch : 0;
    const batches = opened?.batches ?? data.openEpoch(epoch, firstStep * perStep);
    // Optimizer steps in the whole epoch, when the data knows its length (a stream may not).
    const steps = batches.steps === undefined ? undefined : Math.ceil(batches.steps / perStep);
    // A batch read ahead: the caller's first, or (in a stream of unknown length) the next one,
    // read to learn whether the step before it was the epoch's last.
    let ahead: { batch: RankBatch | undefined; dataMs: number } | undefined = opened === undefined ? undefined : { batch: opened.first, dataMs: 0 };
    opened = undefined;
    const epochLoss = new EpochLossMean();
    for (let stepInEpoch = firstStep; ; stepInEpoch++) {
      const stepStart = performance.now();
      // This step's micro-batches: one, or `accumulationSteps` (fewer at the end of an epoch).
      const group: RankBatch[] = [];
      let dataMs = 0;
      while (group.length < perStep) {
        const readStart = performance.now();
        const batch = ahead === undefined ? await batches.next() : ahead.batch;
        dataMs += performance.now() - readStart + (ahead?.dataMs ?? 0);
        ahead = undefined;
        if (batch === undefined) break;
        group.push(batch);
      }
      if (group.length === 0) break;
      const globalSamples = group.reduce((sum, batch) => sum + batch.globalSamples, 0);
      const learningRate = controls?.beforeStep({
        step: position.globalStep,
        epoch,
        stepsPerEpoch: steps ?? Number.NaN,
        totalSteps: steps === undefined ? Number.NaN : steps * schedule.epochs,
      });
      let outcome;
      try {
        const common = {
          trainable,
          exchange,
          optimizer,
          globalSamples,
          allReduceSum: args.allReduceSum,
          stopVote: args.shouldStop(),
          ...(controls?.clipping === undefined ? {} : { clipping: controls.clipping }),
          ...(args.evaluation?.trainSums === undefined ? {} : { metrics: args.evaluation.trainSums }),
        };
        const [only] = group;
        outcome = await dataParallelStep(group.length === 1 && only !== undefined ? { ...common, xs: only.xs, ys: only.ys } : { ...common, microBatches: group.map((batch) => () => batch) });
      } finally {
        for (const batch of group) disposeBatch(batch);
      }
      const stepMs = performance.now() - stepStart;
      let last: boolean;
      if (steps !== undefined) {
        last = stepInEpoch + 1 >= steps;
      } else if (group.length < perStep) {
        last = true; // the stream ended inside this step's group
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
        step: toStep(position.globalStep, "the global step"),
        stepInEpoch,
        stepsInEpoch: steps ?? (last ? stepInEpoch + 1 : Number.NaN),
        loss: outcome.globalLoss,
        localLoss: outcome.localLoss,
        samples: outcome.localSamples,
        globalSamples,
        dataMs,
        ...outcome.timings,
        stepMs,
        endedAtMs: performance.timeOrigin + performance.now(),
        samplesPerSecond: stepMs > 0 ? (outcome.localSamples * 1000) / stepMs : 0,
        ...(learningRate === undefined ? {} : { learningRate }),
      });
      epochLoss.add(outcome.globalLoss, globalSamples);
      stepsSinceCheckpoint++;
      if (schedule.checkpoint !== undefined && stepsSinceCheckpoint >= schedule.checkpoint.everySteps) await checkpointNow();
      // Every rank has the same global losses, so every rank makes the same early-stopping decision.
      await args.evaluation?.afterStep(epoch, position.globalStep);
      const earlyStop = last && (await epochEnded(epoch, position.globalStep, epochLoss, learningRate));
      let stop = outcome.stop;
      try {
        // A stop asked after the schedule's last step stops nothing: the run was not cut short.
        if (args.betweenSteps !== undefined && (await args.betweenSteps()) && !(last && epoch + 1 >= schedule.epochs)) stop = true;
      } catch (error) {
        if (ahead?.batch !== undefined) disposeBatch(ahead.batch);
        throw error;
      }
      if (stop || earlyStop) {
        if (ahead?.batch !== undefined) disposeBatch(ahead.batch);
        return finish(stop, earlyStop);
      }
      if (last) break;
    }
  }
  return finish(false, false);
}
