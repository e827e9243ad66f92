/**
 * Callbacks of a training run, on the owner: `TrainRun` fed a scripted stream of worker events
 * (the drive is the seam; no worker runs), as they arrive from the cluster: step records per rank
 * in batches, and epoch ends from rank 0 that may overtake another rank's records.
 */
import assert from "node:assert/strict";
import { deserialize, serialize } from "node:v8";
import { test } from "node:test";
import { TrainRun } from "../../lib/cluster/train-run.js";
import { parseTrainEvent } from "../../lib/cluster/task-kinds.js";
import type { TrainCallbacks } from "../../lib/training/callback-options.js";
import type { EpochRecord } from "../../lib/training/epoch-record.js";
import type { StepRecord } from "../../lib/metrics/step-record.js";
import type { WorkerTrainEvent, WorkerTrainResult } from "../../lib/training/worker-train.js";
import { toStep } from "../../lib/ids.js";

function stepRecord(rank: number, step: number, loss: number): StepRecord {
  const stepInEpoch = (step - 1) % 2;
  return {
    rank, epoch: Math.floor((step - 1) / 2), step: toStep(step), stepInEpoch, stepsInEpoch: 2, loss, localLoss: loss, samples: 4, globalSamples: 8,
    dataMs: 0, computeMs: 1, communicationMs: 1, applyMs: 0, stepMs: 2, endedAtMs: 1_000 + step, samplesPerSecond: 2_000, learningRate: 0.1,
  };
}

function epochRecord(epoch: number, loss: number): EpochRecord {
  return { epoch, step: 2 * (epoch + 1), steps: 2, samples: 16, logs: { loss, learningRate: 0.1 }, endedAtMs: 1_000 + 2 * (epoch + 1) };
}

/**
 * A run of 2 ranks and 2 epochs of 2 steps whose events arrive in `batches`; the drive waits for
 * a tick between batches (as records arrive every metricsIntervalMs) and records stop requests.
 */
function scriptedRun(batches: WorkerTrainEvent[][], callbacks: TrainCallbacks[], options: { stopsAfterRequest?: boolean } = {}): { run: TrainRun; stops: number[] } {
  const stops: number[] = [];
  let delivered = 0;
  const run = new TrainRun(
    2,
    { batchSize: 8, epochs: 2, seed: 0 },
    async (onEvent, onStart) => {
      let stopRequested = false;
      onStart(() => {
        stopRequested = true;
        stops.push(delivered);
      });
      for (const batch of batches) {
        if (stopRequested && options.stopsAfterRequest === true) break;
        // As from a worker: structured-clone bytes, read back by the train kind's parser.
        for (const event of batch) onEvent(parseTrainEvent(deserialize(serialize(event)), `rank ${event.rank}'s train event`));
        delivered++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const result = (rank: number): WorkerTrainResult => ({ rank, stopped: stopRequested, position: { epoch: 2, stepInEpoch: 0, globalStep: 4 }, parameterCount: 10 });
      return [result(0), result(1)];
    },
    { callbacks },
  );
  return { run, stops };
}

const steps = (rank: number, from: number, to: number, losses: number[]): WorkerTrainEvent => ({
  kind: "steps",
  rank,
  records: Array.from({ length: to - from + 1 }, (_, i) => stepRecord(rank, from + i, losses[from + i - 1]!)),
});
const losses = [1, 0.8, 0.6, 0.5];
/** Rank 0 reports epoch 0's end before rank 1's records of that epoch arrive. */
const twoEpochs: WorkerTrainEvent[][] = [
  [steps(0, 1, 2, losses), { kind: "epochs", rank: 0, records: [epochRecord(0, 0.9)] }],
  [steps(1, 1, 2, losses)],
  [steps(0, 3, 4, losses), { kind: "epochs", rank: 0, records: [epochRecord(1, 0.55)] }, steps(1, 3, 4, losses)],
];

test("callbacks run in order as records arrive: each step once, an epoch's end after its last step, onTrainEnd before the run resolves", async () => {
  const calls: string[] = [];
  const { run } = scriptedRun(twoEpochs, [
    {
      onStepEnd: (step, logs) => void calls.push(`step ${step} loss ${logs.loss} lr ${logs.learningRate} epoch ${logs.epoch}`),
      // Async callbacks are awaited before the next one runs.
      onEpochEnd: async (epoch, logs) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        calls.push(`epoch ${epoch} loss ${logs.loss}`);
      },
      onTrainEnd: (logs) => void calls.push(`end ${logs.steps} ${logs.loss} ${logs.stopped}`),
    },
    { onEpochEnd: (epoch) => void calls.push(`second list epoch ${epoch}`) },
  ]);
  const result = await run;
  assert.deepEqual(calls, [
    "step 1 loss 1 lr 0.1 epoch 0",
    "step 2 loss 0.8 lr 0.1 epoch 0",
    "epoch 0 loss 0.9",
    "second list epoch 0",
    "step 3 loss 0.6 lr 0.1 epoch 1",
    "step 4 loss 0.5 lr 0.1 epoch 1",
    "epoch 1 loss 0.55",
    "second list epoch 1",
    "end 4 0.5 false",
  ]);
  assert.deepEqual(result.epochs.map((e) => e.logs.loss), [0.9, 0.55]);
  assert.deepEqual(run.epochs.map((e) => e.epoch), [0, 1]);
});

test("a callback returning false or calling stop() stops the run", async () => {
  for (const callbacks of [
    { onStepEnd: (step: number) => step !== 2 },
    { onEpochEnd: (_epoch: number, _logs: unknown, control: { stop(): void }) => control.stop() },
  ]) {
    const { run, stops } = scriptedRun(twoEpochs, [callbacks], { stopsAfterRequest: true });
    const result = await run;
    assert.equal(result.stopped, true);
    assert.equal(stops.length >= 1, true, "the stop reached the ranks");
    assert.ok(stops[0]! <= 2, `asked to stop after batch ${stops[0]}`);
  }
});

test("a callback that throws stops the run, which rejects with its error and step; later callbacks are not called", async () => {
  const calls: number[] = [];
  const failure = new Error("plot server unreachable");
  const { run, stops } = scriptedRun(twoEpochs, [
    {
      onStepEnd: (step) => {
        calls.push(step);
        if (step === 2) throw failure;
      },
      onTrainEnd: () => void calls.push(-1),
    },
  ]);
  const error = await Promise.resolve(run).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof Error);
  assert.match(error.message, /callbacks.onStepEnd threw at step 2, so the run was stopped: Error: plot server unreachable/);
  assert.equal((error as Error & { code?: string }).code, "ERR_CALLBACK");
  assert.equal(error.cause, failure);
  assert.deepEqual(calls, [1, 2]);
  assert.equal(stops.length, 1);
});
