/**
 * Training in this process, without a cluster: the same code path as one rank of `cluster.train`
 * (the same sharding, optimizer, seeds), with a world of one. The reference that N-worker
 * training is checked against, and the baseline of the training benchmark.
 */
import { parseCallbackOptions } from "./callback-options.js";
import { CallbackRunner } from "./callback-runner.js";
import { parseTrainOptions, type TrainOptions } from "./train-spec.js";
import type { StepRecord } from "./rank-loop.js";
import { rebuildTrainedModel, recipeOf, type TrainedModel } from "./trained-model.js";
import type { EpochRecord } from "./epoch-record.js";
import type { ValidationRecord } from "./validation.js";
import { exportTrainedModel, runWorkerTraining, type ExportedModel, type WorkerTrainResult } from "./worker-train.js";

/** What a single-process run gives: every step's record, the end position and the model. */
export interface SingleProcessRun {
  records: StepRecord[];
  /** Every epoch's end (mean loss, ...), as `onEpochEnd` callbacks of `cluster.train` get them. */
  epochs: EpochRecord[];
  /** Every validation pass (`val_loss`, `val_<metric>`), as `run.validations` of `cluster.train`. */
  validations: ValidationRecord[];
  /** Where training ended; `stopped` when a callback stopped it before its schedule ended. */
  result: WorkerTrainResult;
  /** The trained weights, as a worker exports them. */
  model: ExportedModel;
  /**
   * A copy of the trained model, compiled with the run's loss and optimizer, as `cluster.model()`
   * gives it: `predict`, `evaluate`, `saveModel` work on it. Each call makes a new copy (dispose it).
   */
  trainedModel(): Promise<TrainedModel>;
}

/**
 * Trains with `options` in this process, on the current tfjs backend. Schedules, clipping,
 * accumulation, validation and early stopping apply as in `cluster.train`. `callbacks` run as
 * in `cluster.train`, in order, but between the steps: `onStepEnd` after each step, before the
 * next one starts; `onEpochEnd` after the epoch's last `onStepEnd` (with its metrics and `val_`
 * logs); `onTrainEnd` last. Returning `false` or calling `control.stop()` ends training right
 * after that step (in `cluster.train`, a few steps later); a callback that throws ends it, and
 * the returned promise rejects with its error (`ERR_CALLBACK`).
 * @example
 * await useWasmBackend();
 * const run = await trainSingleProcess({ model: ..., data: { builtin: "mnist" }, batchSize: 128 });
 * const model = await run.trainedModel();
 * await saveModel(model, "runs/alone");
 */
export async function trainSingleProcess(options: TrainOptions): Promise<SingleProcessRun> {
  const spec = parseTrainOptions(options, 1);
  const records: StepRecord[] = [];
  const epochs: EpochRecord[] = [];
  const validations: ValidationRecord[] = [];
  let stopRequested = false;
  const callbacks = options.callbacks === undefined ? undefined : new CallbackRunner(parseCallbackOptions(options.callbacks), { stop: () => (stopRequested = true) });
  const result = await runWorkerTraining(
    {
      rank: 0,
      worldSize: 1,
      allReduceSum: async (values) => values,
      broadcast: async (values) => values!,
      emit: (event) => {
        if (event.kind === "steps") {
          records.push(...event.records);
          for (const record of event.records) callbacks?.stepEnd(record.step, stepLogsOf(record));
        } else if (event.kind === "epochs") {
          epochs.push(...event.records);
          for (const record of event.records) callbacks?.epochEnd(record);
        } else if (event.kind === "validations") {
          validations.push(...event.records);
        }
      },
      stopRequested: () => false,
      // The run's own stop: right after the step whose callback asked for it, no vote needed.
      ...(callbacks === undefined
        ? {}
        : {
            betweenSteps: async () => {
              await callbacks.settled();
              return stopRequested;
            },
          }),
    },
    // Records go out between the steps (or in one flush at the end): no timer work during them.
    { ...spec, metricsIntervalMs: 3_600_000 },
  );
  const stoppedEpoch = result.earlyStopping?.stoppedEpoch;
  await callbacks?.trainEnd({
    loss: records.at(-1)?.loss ?? Number.NaN,
    steps: result.position.globalStep,
    stopped: result.stopped,
    ...(stoppedEpoch === undefined || stoppedEpoch === null ? {} : { earlyStoppedEpoch: stoppedEpoch }),
  });
  const model = await exportTrainedModel(0);
  const recipe = recipeOf(options, spec.optimizer, 1);
  return { records, epochs, validations, result, model, trainedModel: () => rebuildTrainedModel(model, recipe) };
}

/** A step's logs as `onStepEnd` gets them (in a world of one the rank's record is the step's). */
function stepLogsOf(record: StepRecord): Parameters<CallbackRunner["stepEnd"]>[1] {
  return {
    loss: record.loss,
    epoch: record.epoch,
    stepInEpoch: record.stepInEpoch,
    ...(record.learningRate === undefined ? {} : { learningRate: record.learningRate }),
    samples: record.globalSamples,
    samplesPerSecond: record.samplesPerSecond,
  };
}
