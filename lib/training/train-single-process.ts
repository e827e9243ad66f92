/**
 * Training in this process, without a cluster: the same code path as one rank of `cluster.train`
 * (the same sharding, optimizer, seeds), with a world of one. The reference that N-worker
 * training is checked against, and the baseline of the training benchmark.
 */
import { parseTrainOptions, type TrainOptions } from "./train-spec.js";
import type { StepRecord } from "./rank-loop.js";
import { exportTrainedModel, runWorkerTraining, type ExportedModel, type WorkerTrainResult } from "./worker-train.js";

/** What a single-process run gives: every step's record, the end position and the model. */
export interface SingleProcessRun {
  records: StepRecord[];
  result: WorkerTrainResult;
  model: ExportedModel;
}

/**
 * Trains with `options` in this process, on the current tfjs backend.
 * @example
 * await useWasmBackend();
 * const { records, model } = await trainSingleProcess({ model: ..., data: { builtin: "mnist" }, batchSize: 128 });
 */
export async function trainSingleProcess(options: TrainOptions): Promise<SingleProcessRun> {
  const spec = parseTrainOptions(options, 1);
  const records: StepRecord[] = [];
  const result = await runWorkerTraining(
    {
      rank: 0,
      worldSize: 1,
      allReduceSum: async (values) => values,
      broadcast: async (values) => values!,
      emit: (event) => {
        if (event.kind === "steps") records.push(...event.records);
      },
      stopRequested: () => false,
    },
    // One flush at the end: no timer work during the steps.
    { ...spec, metricsIntervalMs: 3_600_000 },
  );
  return { records, result, model: await exportTrainedModel(0) };
}
