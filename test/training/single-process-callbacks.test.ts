/**
 * `trainSingleProcess` runs `callbacks` as `cluster.train` does, but between its steps: each
 * `onStepEnd` before the next step, `onEpochEnd` after the epoch's last step with its logs,
 * `onTrainEnd` last; a stop asked by a callback ends training right after that step (checked
 * against runs that end there by their schedule); a callback that throws fails the run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { trainSingleProcess } from "../../lib/training/train-single-process.js";
import type { TrainOptions } from "../../lib/training/train-spec.js";
import type { CallbackControl, StepLogs, TrainEndLogs } from "../../lib/training/callback-options.js";
import type { EpochLogs } from "../../lib/training/epoch-record.js";
import { classifier, features, oneHot } from "./data-form-cases.js";
import { flatWeights } from "./train-in-process.js";

await tf.setBackend("cpu");

/** 18 samples in batches of 8: 3 steps per epoch (the last of 2 samples). */
const options = (overrides: Partial<TrainOptions> = {}): TrainOptions => ({
  model: classifier,
  data: { xs: features, ys: oneHot },
  loss: "categoricalCrossentropy",
  metrics: ["accuracy"],
  validationData: { xs: features.slice(0, 5), ys: oneHot.slice(0, 5) },
  optimizer: { name: "sgd", learningRate: 0.1 },
  batchSize: 8,
  epochs: 2,
  seed: 3,
  ...overrides,
});

test("trainSingleProcess runs callbacks in order between its steps: onStepEnd after each step, onEpochEnd with the epoch's logs after its last, onTrainEnd last", async () => {
  const calls: string[] = [];
  const finishedAtMs: number[] = [];
  const stepLogs: StepLogs[] = [];
  const epochLogs: EpochLogs[] = [];
  let endLogs: TrainEndLogs | undefined;
  const run = await trainSingleProcess(
    options({
      callbacks: [
        {
          // Async and slow: the next step starts only when it is done.
          onStepEnd: async (step: number, logs: StepLogs) => {
            await new Promise((resolve) => setTimeout(resolve, 20));
            finishedAtMs.push(performance.timeOrigin + performance.now());
            calls.push(`step ${step}`);
            stepLogs.push(logs);
          },
          onEpochEnd: (epoch: number, logs: EpochLogs) => {
            calls.push(`epoch ${epoch}`);
            epochLogs.push(logs);
          },
          onTrainEnd: (logs: TrainEndLogs) => {
            calls.push("end");
            endLogs = logs;
          },
        },
        { onEpochEnd: (epoch: number) => void calls.push(`second epoch ${epoch}`) },
      ],
    }),
  );
  assert.deepEqual(calls, ["step 1", "step 2", "step 3", "epoch 0", "second epoch 0", "step 4", "step 5", "step 6", "epoch 1", "second epoch 1", "end"]);
  assert.deepEqual(
    stepLogs.map((logs) => [logs.loss, logs.epoch, logs.stepInEpoch, logs.samples, logs.learningRate]),
    run.records.map((record) => [record.loss, record.epoch, record.stepInEpoch, record.globalSamples, 0.1]),
  );
  for (let step = 2; step <= 6; step++) {
    assert.ok(run.records[step - 1]!.endedAtMs > finishedAtMs[step - 2]!, `step ${step} ended after step ${step - 1}'s callback`);
  }
  assert.deepEqual(epochLogs, run.epochs.map((epoch) => epoch.logs));
  assert.deepEqual(Object.keys(epochLogs[0]!).sort(), ["accuracy", "learningRate", "loss", "val_accuracy", "val_loss"]);
  assert.deepEqual(endLogs, { loss: run.records[5]!.loss, steps: 6, stopped: false });
  assert.equal(run.result.stopped, false);
});

test("a callback that returns false or calls control.stop() ends trainSingleProcess right after that step, with the weights of a run that ends there", async () => {
  const byStep = await trainSingleProcess(options({ callbacks: { onStepEnd: (step: number) => step !== 2 } }));
  assert.equal(byStep.records.length, 2);
  assert.deepEqual(byStep.result.position, { epoch: 0, stepInEpoch: 2, globalStep: 2 });
  assert.equal(byStep.result.stopped, true);
  const twoSteps = await trainSingleProcess(options({ epochs: 1, stepsPerEpoch: 2 }));
  assert.deepEqual(flatWeights(byStep.model), flatWeights(twoSteps.model));

  let end: TrainEndLogs | undefined;
  const byEpoch = await trainSingleProcess(
    options({
      epochs: 3,
      callbacks: { onEpochEnd: (_epoch: number, _logs: EpochLogs, control: CallbackControl) => control.stop(), onTrainEnd: (logs: TrainEndLogs) => void (end = logs) },
    }),
  );
  assert.equal(byEpoch.epochs.length, 1);
  assert.deepEqual(end, { loss: byEpoch.records[2]!.loss, steps: 3, stopped: true });
  const oneEpoch = await trainSingleProcess(options({ epochs: 1 }));
  assert.deepEqual(flatWeights(byEpoch.model), flatWeights(oneEpoch.model));

  // A stop asked at the schedule's last step cuts nothing short.
  const atTheEnd = await trainSingleProcess(options({ callbacks: { onStepEnd: (step: number) => step !== 6 } }));
  assert.equal(atTheEnd.records.length, 6);
  assert.equal(atTheEnd.result.stopped, false);
});

test("a callback that throws ends trainSingleProcess, which rejects with its error; nothing is called after it", async () => {
  const calls: string[] = [];
  await assert.rejects(
    trainSingleProcess(
      options({
        callbacks: {
          onStepEnd: (step: number) => {
            calls.push(`step ${step}`);
            if (step === 2) throw new Error("boom");
          },
          onTrainEnd: () => void calls.push("end"),
        },
      }),
    ),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, "ERR_CALLBACK");
      assert.match(error.message, /callbacks.onStepEnd threw at step 2, so the run was stopped: Error: boom/);
      return true;
    },
  );
  assert.deepEqual(calls, ["step 1", "step 2"]);
});

test("callbacks leak no tensors over a run, a stopped one included", async () => {
  const stopping = options({ callbacks: { onStepEnd: (step: number) => step < 4 } });
  await trainSingleProcess(stopping);
  const before = tf.memory().numTensors;
  await trainSingleProcess(stopping);
  assert.equal(tf.memory().numTensors, before);
});
