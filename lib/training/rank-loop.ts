import tf from "../tfjs.cjs";
import type { Dataset } from "../data/dataset.js";
import { saveCheckpoint, type TrainingPosition } from "./checkpoint.js";
import { GradientExchange } from "./gradient-exchange.js";
import { dataParallelStep, type AllReduceSum } from "./gradient-step.js";
import { planEpoch, shardOf } from "./shard-plan.js";
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
}): Promise<{ position: TrainingPosition; stopped: boolean }> {
  const { rank, worldSize, trainable, optimizer, dataset, schedule } = args;
  const exchange = new GradientExchange(trainable.variables);
  let position: TrainingPosition = args.start ?? { epoch: 0, stepInEpoch: 0, globalStep: 0 };
  let stepsSinceCheckpoint = 0;
  const checkpointNow = async (): Promise<void> => {
    if (rank !== 0 || schedule.checkpoint === undefined) return;
    await saveCheckpoint({ dir: schedule.checkpoint.dir, model: args.model, variables: trainable.variables, optimizer, position });
    stepsSinceCheckpoint = 0;
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
    const batches = schedule.stepsPerEpoch === undefined ? allBatches : allBatches.slice(0, schedule.stepsPerEpoch);
    const firstStep = epoch === position.epoch ? position.stepInEpoch : 0;
    for (let stepInEpoch = firstStep; stepInEpoch < batches.length; stepInEpoch++) {
      const batch = batches[stepInEpoch]!;
      const stepStart = performance.now();
      const { xs, ys } = dataset.batch(shardOf(batch.indices, rank, worldSize));
      const dataMs = performance.now() - stepStart;
      let outcome;
      try {
        outcome = await dataParallelStep({
          trainable,
          exchange,
          optimizer,
          xs,
          ys,
          globalSamples: batch.indices.length,
          allReduceSum: args.allReduceSum,
          stopVote: args.shouldStop(),
        });
      } finally {
        tf.dispose([xs, ys]);
      }
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
        globalSamples: batch.indices.length,
        dataMs,
        ...outcome.timings,
        stepMs,
        endedAtMs: performance.timeOrigin + performance.now(),
        samplesPerSecond: stepMs > 0 ? (outcome.localSamples * 1000) / stepMs : 0,
      });
      stepsSinceCheckpoint++;
      if (schedule.checkpoint !== undefined && stepsSinceCheckpoint >= schedule.checkpoint.everySteps) await checkpointNow();
      if (outcome.stop) {
        if (stepsSinceCheckpoint > 0) await checkpointNow();
        return { position, stopped: true };
      }
    }
  }
  if (stepsSinceCheckpoint > 0) await checkpointNow();
  return { position, stopped: false };
}
