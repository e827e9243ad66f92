import tf from "../tfjs.cjs";
import type { Dataset } from "../data/dataset.js";
import { saveCheckpoint, type TrainingPosition } from "./checkpoint.js";
import { EpochLossMean, type EpochRecord } from "./epoch-record.js";
import { GradientExchange } from "./gradient-exchange.js";
import { dataParallelStep, type AllReduceSum } from "./gradient-step.js";
import { groupMicroBatches } from "./gradient-accumulation.js";
import { planEpoch, shardOf } from "./shard-plan.js";
import type { RankControls } from "./training-controls.js";
import type { Trainable } from "./trainable.js";

/** One rank's record of one step: what the live plots and `run.metrics` are made of. */
export interface StepRecord {
  rank: number;
  epoch: number;
  /** Global step number, from 1 (counts across resumed runs). */
  step: number;
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

/** The schedule of a run, identical on every rank. */
export interface TrainingSchedule {
  batchSize: number;
  epochs: number;
  seed: number;
  /** @default true */
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

/**
 * The training loop of one rank. All ranks run it with the same schedule and data set; they meet
 * once per step in the all-reduce. A stop request on any rank is voted through that all-reduce, so
 * all ranks stop after the same step with identical weights.
 */
export async function trainOnRank(args: {
  rank: number;
  worldSize: number;
  model: unknown;
  trainable: Trainable;
  optimizer: tf.Optimizer;
  dataset: Dataset;
  schedule: TrainingSchedule;
  allReduceSum: AllReduceSum;
  start?: TrainingPosition;
  shouldStop: () => boolean;
  onStep: (record: StepRecord) => void;
  /** Learning-rate schedule, clipping and early stopping (issue 13). */
  controls?: RankControls;
  /** After each epoch's last step (and before early stopping decides on it). */
  onEpochEnd?: (record: EpochRecord) => void;
}): Promise<{ position: TrainingPosition; stopped: boolean; earlyStopped: boolean }> {
  const { rank, worldSize, trainable, optimizer, dataset, schedule } = args;
  const exchange = new GradientExchange(trainable.variables);
  let position: TrainingPosition = args.start ?? { epoch: 0, stepInEpoch: 0, globalStep: 0 };
  let stepsSinceCheckpoint = 0;
  const controls = args.controls;
  const checkpointNow = async (): Promise<void> => {
    if (rank !== 0 || schedule.checkpoint === undefined) return;
    await saveCheckpoint({ dir: schedule.checkpoint.dir, model: args.model, variables: trainable.variables, optimizer, position });
    stepsSinceCheckpoint = 0;
  };
  /** Reports an epoch's end; true when early stopping ends training here. */
  const epochEnded = (epoch: number, step: number, loss: EpochLossMean, learningRate: number | undefined): boolean => {
    // TODO(#13): validation metrics (val_loss, ...) join these logs here, before early stopping reads them.
    const logs = { loss: loss.mean, ...(learningRate === undefined ? {} : { learningRate }) };
    args.onEpochEnd?.({ epoch, step, steps: loss.steps, samples: loss.samples, logs, endedAtMs: performance.timeOrigin + performance.now() });
    return controls?.epochEnd(epoch, logs) ?? false;
  };
  for (let epoch = position.epoch; epoch < schedule.epochs; epoch++) {
    const allBatches = planEpoch({
      datasetSize: dataset.size,
      batchSize: schedule.batchSize,
      seed: schedule.seed,
      epoch,
      ...(schedule.shuffle === undefined ? {} : { shuffle: schedule.shuffle }),
      ...(schedule.dropRemainder === undefined ? {} : { dropRemainder: schedule.dropRemainder }),
    });
    // One optimizer step per group of `accumulationSteps` micro-batches (one batch without accumulation).
    const groups = groupMicroBatches(allBatches, schedule.accumulationSteps ?? 1);
    const batches = schedule.stepsPerEpoch === undefined ? groups : groups.slice(0, schedule.stepsPerEpoch);
    const firstStep = epoch === position.epoch ? position.stepInEpoch : 0;
    const epochLoss = new EpochLossMean();
    for (let stepInEpoch = firstStep; stepInEpoch < batches.length; stepInEpoch++) {
      const group = batches[stepInEpoch]!;
      const globalSamples = group.reduce((sum, batch) => sum + batch.indices.length, 0);
      const stepStart = performance.now();
      const learningRate = controls?.beforeStep({ step: position.globalStep, epoch, stepsPerEpoch: batches.length, totalSteps: batches.length * schedule.epochs });
      let dataMs = 0;
      const outcome = await dataParallelStep({
        trainable,
        exchange,
        optimizer,
        microBatches: group.map((batch) => () => {
          const loadStart = performance.now();
          const loaded = dataset.batch(shardOf(batch.indices, rank, worldSize));
          dataMs += performance.now() - loadStart;
          return loaded;
        }),
        globalSamples,
        allReduceSum: args.allReduceSum,
        stopVote: args.shouldStop(),
        ...(controls?.clipping === undefined ? {} : { clipping: controls.clipping }),
      });
      const stepMs = performance.now() - stepStart;
      const nextInEpoch = stepInEpoch + 1;
      position =
        nextInEpoch < batches.length
          ? { epoch, stepInEpoch: nextInEpoch, globalStep: position.globalStep + 1 }
          : { epoch: epoch + 1, stepInEpoch: 0, globalStep: position.globalStep + 1 };
      args.onStep({
        rank,
        epoch,
        step: position.globalStep,
        stepInEpoch,
        stepsInEpoch: batches.length,
        loss: outcome.globalLoss,
        localLoss: outcome.localLoss,
        samples: outcome.localSamples,
        globalSamples,
        dataMs,
        ...outcome.timings,
        // The step's compute included loading its micro-batches.
        computeMs: Math.max(0, outcome.timings.computeMs - dataMs),
        stepMs,
        endedAtMs: performance.timeOrigin + performance.now(),
        samplesPerSecond: stepMs > 0 ? (outcome.localSamples * 1000) / stepMs : 0,
        ...(learningRate === undefined ? {} : { learningRate }),
      });
      epochLoss.add(outcome.globalLoss, globalSamples);
      stepsSinceCheckpoint++;
      if (schedule.checkpoint !== undefined && stepsSinceCheckpoint >= schedule.checkpoint.everySteps) await checkpointNow();
      // Every rank has the same global losses, so every rank makes the same early-stopping decision.
      const earlyStop = nextInEpoch === batches.length && epochEnded(epoch, position.globalStep, epochLoss, learningRate);
      if (outcome.stop || earlyStop) {
        controls?.trainEnd();
        if (stepsSinceCheckpoint > 0 || controls?.earlyStopping?.restoredBestWeights === true) await checkpointNow();
        return { position, stopped: outcome.stop, earlyStopped: earlyStop };
      }
    }
  }
  controls?.trainEnd();
  if (stepsSinceCheckpoint > 0 || controls?.earlyStopping?.restoredBestWeights === true) await checkpointNow();
  return { position, stopped: false, earlyStopped: false };
}
