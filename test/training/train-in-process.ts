/**
 * Several ranks of `cluster.train` in this process, meeting in the in-process all-reduce: the
 * worker side of training without processes, for checks that need many runs (every data form,
 * every error). Also the flat weights of an exported model, to compare runs.
 */
import assert from "node:assert/strict";
import { exportTrainedModel, runWorkerTraining, type ExportedModel, type WorkerTrainEvent, type WorkerTrainResult } from "../../lib/training/worker-train.js";
import { parseTrainOptions, type TrainOptions } from "../../lib/training/train-spec.js";
import type { StepRecord } from "../../lib/metrics/step-record.js";
import { InProcessAllReduce, InProcessBroadcast } from "./in-process-all-reduce.js";

/** What an in-process run gives: each rank's outcome, every event, and rank 0's weights and losses when it trained. */
export interface InProcessRun {
  results: Array<PromiseSettledResult<WorkerTrainResult>>;
  events: WorkerTrainEvent[];
  /** Rank 0's global loss per step. */
  losses: number[];
  records: StepRecord[];
}

/** Trains `options` on `worldSize` ranks in this process (options parsed as `cluster.train` parses them). */
export async function trainInProcess(worldSize: number, options: TrainOptions): Promise<InProcessRun> {
  const spec = parseTrainOptions(options, worldSize);
  const allReduce = new InProcessAllReduce(worldSize);
  const broadcast = new InProcessBroadcast(worldSize);
  const events: WorkerTrainEvent[] = [];
  const results = await Promise.allSettled(
    Array.from({ length: worldSize }, (_, rank) =>
      runWorkerTraining(
        {
          rank,
          worldSize,
          allReduceSum: allReduce.forRank(rank),
          broadcast: (values) => broadcast.broadcast(values),
          emit: (event) => events.push(event),
          stopRequested: () => false,
        },
        { ...spec, metricsIntervalMs: 3_600_000 },
      ),
    ),
  );
  const records = events.flatMap((e) => (e.kind === "steps" ? e.records : []));
  const losses = records.filter((r) => r.rank === 0).sort((a, b) => a.step - b.step).map((r) => r.loss);
  return { results, events, losses, records };
}

/** Asserts every rank of a run trained, with the reasons of those that did not. */
export function assertAllTrained(run: InProcessRun): void {
  for (const [rank, result] of run.results.entries()) assert.equal(result.status, "fulfilled", `rank ${rank}: ${String((result as PromiseRejectedResult).reason)}`);
}

/** All weights of an exported model in one array, in the model's order. */
export function flatWeights(model: ExportedModel): Float32Array {
  if (model.kind === "layers") return new Float32Array(model.weightData.slice(0));
  const total = model.variables.reduce((sum, v) => sum + v.values.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const v of model.variables) {
    out.set(v.values, offset);
    offset += v.values.length;
  }
  return out;
}

/** The weights rank `rank` holds after the last in-process run. */
export async function weightsOfRank(rank: number): Promise<Float32Array> {
  return flatWeights(await exportTrainedModel(rank));
}

/** The largest absolute difference between two equally long arrays. */
export function maxAbsDifference(a: Float32Array | readonly number[], b: Float32Array | readonly number[]): number {
  assert.equal(a.length, b.length, "same length");
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
