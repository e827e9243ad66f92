/**
 * `run.metrics` on the owner, fed by a scripted drive (no worker runs): a reader subscribed before
 * its first `next()` misses nothing, every reader ends with the run, and a reader that subscribes
 * after the run ended ends at once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { TrainRun } from "../../lib/cluster/train-run.js";
import type { StepRecord } from "../../lib/metrics/step-record.js";
import type { WorkerTrainResult } from "../../lib/training/worker-train.js";
import { toStep } from "../../lib/ids.js";

function stepRecord(step: number): StepRecord {
  return {
    rank: 0, epoch: 0, step: toStep(step), stepInEpoch: step - 1, stepsInEpoch: 3, loss: 1 / step, localLoss: 1 / step, samples: 4, globalSamples: 4,
    dataMs: 0, computeMs: 1, communicationMs: 0, applyMs: 0, stepMs: 1, endedAtMs: 1_000 + step, samplesPerSecond: 4_000,
  };
}

test("run.metrics readers see every step summary from when they subscribed, and end with the run", async () => {
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const result: WorkerTrainResult = { rank: 0, stopped: false, position: { epoch: 1, stepInEpoch: 0, globalStep: 3 }, parameterCount: 1 };
  const run = new TrainRun(1, { batchSize: 4, epochs: 1, seed: 0 }, async (onEvent) => {
    await released;
    onEvent({ kind: "steps", rank: 0, records: [stepRecord(1), stepRecord(2)] });
    await new Promise((resolve) => setImmediate(resolve));
    onEvent({ kind: "steps", rank: 0, records: [stepRecord(3)] });
    return [result];
  });
  // Subscribed now; its first next() comes only after the steps were sent.
  const early = run.metrics[Symbol.asyncIterator]();
  const steps: number[] = [];
  const reading = (async () => {
    for await (const summary of run.metrics) steps.push(summary.step);
  })();
  release();
  await run;
  await reading;
  assert.deepEqual(steps, [1, 2, 3]);
  const earlySteps: number[] = [];
  for (let next = await early.next(); next.done !== true; next = await early.next()) earlySteps.push(next.value.step);
  assert.deepEqual(earlySteps, [1, 2, 3]);
  const late: number[] = [];
  for await (const summary of run.metrics) late.push(summary.step);
  assert.deepEqual(late, [], "a reader after the end ends at once");
});
