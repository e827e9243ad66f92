/**
 * Training in this process, without a cluster: the same code path as one rank of `cluster.train`
 * (the same sharding, optimizer, seeds), with a world of one. The reference that N-worker
 * training is checked against, and the baseline of the training benchmark.
 */
import { RingbookError } from "../errors.js";
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
 * accumulation and early stopping apply as in `cluster.train`; `callbacks` are refused.
 * @example
 * await useWasmBackend();
 * const run = await trainSingleProcess({ model: ..., data: { builtin: "mnist" }, batchSize: 128 });
 * const model = await run.trainedModel();
 * await saveModel(model, "runs/alone");
 */
export async function trainSingleProcess(options: TrainOptions): Promise<SingleProcessRun> {
  const spec = parseTrainOptions(options, 1);
  if (options.callbacks !== undefined) {
    // TODO(#13): run them here too; the steps give the event loop no turn to deliver records between them.
    throw new RingbookError("ERR_BAD_TRAIN_OPTIONS", "trainSingleProcess does not run callbacks (cluster.train runs them in the notebook); read the returned records and epochs instead, or use earlyStopping");
  }
  const records: StepRecord[] = [];
  const epochs: EpochRecord[] = [];
  const validations: ValidationRecord[] = [];
  const result = await runWorkerTraining(
    {
      rank: 0,
      worldSize: 1,
      allReduceSum: async (values) => values,
      broadcast: async (values) => values!,
      emit: (event) => {
        if (event.kind === "steps") records.push(...event.records);
        else if (event.kind === "epochs") epochs.push(...event.records);
        else if (event.kind === "validations") validations.push(...event.records);
      },
      stopRequested: () => false,
    },
    // One flush at the end: no timer work during the steps.
    { ...spec, metricsIntervalMs: 3_600_000 },
  );
  const model = await exportTrainedModel(0);
  const recipe = recipeOf(options, spec.optimizer, 1);
  return { records, epochs, validations, result, model, trainedModel: () => rebuildTrainedModel(model, recipe) };
}
