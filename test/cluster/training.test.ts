/**
 * Data-parallel training on real worker processes, checked against an oracle: the weights after
 * N-worker training equal single-process training on the same global batches (computed here, in
 * this process, on the same backend), also with an uneven last batch; the same seed gives the
 * same weights twice; no tensor leaks; stop and resume leave consistent weights; a dying worker
 * ends the run with an error naming it; bad options fail before any worker computes. On each CPU
 * backend: wasm with the native kernels (wasm-blas) and plain wasm.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { useBlasBackend } from "../../lib/backend/load-blas.js";
import { useWasmBackend } from "../../lib/backend/load-wasm.js";
import { ClusterTaskError, launchCluster, loadModel, saveModel, syntheticClassification, WorkerDiedError, type Cluster, type TrainedModel, type TrainOptions } from "../../lib/index.js";
import { trainSingleProcess } from "../../lib/training/train-single-process.js";
import { cosineDecay, exponentialDecay, learningRateAt } from "../../lib/training/learning-rate-schedule.js";
import type { EpochRecord } from "../../lib/training/epoch-record.js";
import { bestCpuBackend, cpuBackends, timed } from "./helpers.js";

/** Makes this process's tfjs use `backend`, for the single-process oracle. */
async function useInProcess(backend: "wasm-blas" | "wasm"): Promise<void> {
  if (backend === "wasm-blas") await useBlasBackend();
  else await useWasmBackend();
}

/** Weights of a model exported by exportTrainedModel or returned by cluster.model(), flat per variable. */
async function weightsOf(model: TrainedModel): Promise<Float32Array[]> {
  const tensors = model instanceof tf.LayersModel ? model.getWeights() : model.variables;
  const values = await Promise.all(tensors.map((tensor) => tensor.data() as Promise<Float32Array>));
  model.dispose();
  return values;
}

/** Single-process training in this process: the oracle. */
async function trainAlone(options: TrainOptions): Promise<{ weights: Float32Array[]; losses: number[] }> {
  const { records, model: exported } = await trainSingleProcess(options);
  const losses = records.map((record) => record.loss);
  assert.equal(exported.kind, "layers");
  const model = exported.kind === "layers" ? await tf.loadLayersModel(tf.io.fromMemory(exported)) : undefined;
  return { weights: await weightsOf(model!), losses };
}

function maxAbsDifference(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  assert.equal(a.length, b.length, "same number of variables");
  let worst = 0;
  a.forEach((values, i) => {
    const other = b[i]!;
    assert.equal(values.length, other.length, `variable ${i} has the same size`);
    for (let j = 0; j < values.length; j++) worst = Math.max(worst, Math.abs(values[j]! - other[j]!));
  });
  return worst;
}

const mlpOptions = (overrides: Partial<TrainOptions> = {}): TrainOptions => ({
  model: ({ tf: t }: { tf: typeof tf }) =>
    t.sequential({ layers: [t.layers.dense({ inputShape: [12], units: 16, activation: "relu" }), t.layers.dense({ units: 4, activation: "softmax" })] }),
  // 212 samples in batches of 40: five full batches and a last one of 12.
  data: { builtin: "synthetic", size: 212, features: 12, classes: 4, seed: 3 },
  optimizer: { name: "adam", learningRate: 0.01 },
  batchSize: 40,
  epochs: 2,
  seed: 11,
  ...overrides,
});

/**
 * Float32 sums in another order (the ring adds per-rank gradients, the oracle sums one batch) and
 * Adam's division by small second moments amplify rounding a little over 12 steps.
 */
const tolerance = 2e-4;

for (const backend of cpuBackends) describe(`data-parallel training on a ${backend} cluster`, () => {
  before(() => useInProcess(backend));

  for (const workers of [2, 4]) {
    it(`${workers} workers give the weights of single-process training on the same global batches, with an uneven last batch`, async () => {
      const cluster = await launchCluster({ workers, backend });
      try {
        const result = await cluster.train(mlpOptions());
        assert.equal(result.steps, 12, "6 steps per epoch (the last one uneven) × 2 epochs");
        assert.equal(result.stopped, false);
        assert.equal(result.backend, backend);
        const distributed = await weightsOf(await cluster.model());
        const alone = await trainAlone(mlpOptions());
        const difference = maxAbsDifference(distributed, alone.weights);
        assert.ok(difference < tolerance, `max |difference| ${difference} ≥ ${tolerance}`);
        const losses = result.history.columns.loss;
        assert.equal(losses.length, 12);
        losses.forEach((loss, i) => assert.ok(Math.abs(loss - alone.losses[i]!) < 1e-4, `step ${i + 1}: loss ${loss} vs ${alone.losses[i]}`));
      } finally {
        await cluster.close();
      }
    });
  }

  describe("on a warm cluster", () => {
    let cluster: Cluster;
    let checkpoints: string;
    before(async () => {
      cluster = await launchCluster({ workers: 2, backend });
      checkpoints = await mkdtemp(join(tmpdir(), "ringbook-ckpt-"));
    });
    after(async () => {
      await cluster.close();
      await rm(checkpoints, { recursive: true, force: true });
    });

    it("gives the same weights for the same seed, starts again in well under a second, and leaks no tensors", async () => {
      await cluster.train(mlpOptions());
      const first = await weightsOf(await cluster.model());
      const tensorsAfterFirst = await cluster.run(({ tf: t }) => t.memory().numTensors);
      const run = cluster.train(mlpOptions());
      const iterator = run.metrics[Symbol.asyncIterator]();
      const { ms: firstStepMs, value: firstStep } = await timed(iterator.next());
      assert.ok(firstStepMs < 1000, `the second run's first step came after ${firstStepMs} ms`);
      assert.equal(firstStep?.value?.step, 1);
      await run;
      const second = await weightsOf(await cluster.model());
      assert.equal(maxAbsDifference(first, second), 0, "bitwise identical");
      for (let i = 0; i < 3; i++) await cluster.train(mlpOptions({ epochs: 1 }));
      assert.deepEqual(await cluster.run(({ tf: t }) => t.memory().numTensors), tensorsAfterFirst, "tensor count unchanged after more runs");
      // Checkpoints read the optimizer's state: the iteration count getWeights() makes each time leaked.
      for (let i = 0; i < 2; i++) await cluster.train(mlpOptions({ epochs: 1, checkpoint: { dir: join(checkpoints, "leak"), everySteps: 2 } }));
      assert.deepEqual(await cluster.run(({ tf: t }) => t.memory().numTensors), tensorsAfterFirst, "tensor count unchanged after runs that write checkpoints");
    });

    // One backend is enough: this checks the notebook side of cluster.model().
    if (backend === bestCpuBackend) {
      it("cluster.model() comes back compiled with the run's loss and optimizer: evaluate gives the mean loss of its predictions, and it saves and loads compiled", async () => {
        await cluster.train(mlpOptions({ epochs: 1, live: false }));
        const model = await cluster.model();
        const data = syntheticClassification({ size: 212, features: 12, classes: 4, seed: 3 });
        const { xs, ys } = data.batch(Uint32Array.from({ length: data.size }, (_, i) => i));
        // No narrowing needed for predict and evaluate.
        const predicted = model.predict(xs) as tf.Tensor;
        const expected = tf.tidy(() => tf.metrics.categoricalCrossentropy(ys, predicted).mean().dataSync()[0]!);
        const evaluated = model.evaluate(xs, ys) as tf.Scalar;
        assert.ok(Math.abs(evaluated.dataSync()[0]! - expected) < 1e-5, `evaluate ${evaluated.dataSync()[0]} vs ${expected}`);
        assert.ok(model instanceof tf.LayersModel);
        assert.equal(model.loss, "categoricalCrossentropy");
        assert.equal(model.optimizer.getConfig().learningRate, 0.01);
        const dir = join(checkpoints, "saved-model");
        await saveModel(model, dir);
        const loaded = await loadModel(dir);
        const reloaded = loaded.evaluate(xs, ys) as tf.Scalar;
        assert.equal(reloaded.dataSync()[0], evaluated.dataSync()[0]);
        tf.dispose([xs, ys, predicted, evaluated, reloaded]);
        loaded.dispose();
        model.dispose();
      });
    }

    it("a 150-step MNIST MLP run does not fall into back-to-back full collections on the workers", async () => {
      // The ZeroMQ chunks of every all-reduce count as external memory against V8's old-generation
      // limit; with V8's own heap growth about half of such runs started a full collection every
      // 5-8 steps (20-32 per run). Workers grow their heap 3x (worker-handle.ts): 1-3 per run.
      await cluster.run(async () => {
        const { PerformanceObserver, constants } = await import("node:perf_hooks");
        const counter = { full: 0 };
        const observer = new PerformanceObserver((list) => {
          for (const entry of list.getEntries()) if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) counter.full++;
        });
        observer.observe({ entryTypes: ["gc"] });
        (globalThis as Record<string, unknown>).fullCollections = { counter, observer };
      });
      await cluster.train({
        model: ({ tf: t }: { tf: typeof tf }) =>
          t.sequential({ layers: [t.layers.dense({ inputShape: [784], units: 256, activation: "relu" }), t.layers.dense({ units: 256, activation: "relu" }), t.layers.dense({ units: 10, activation: "softmax" })] }),
        data: { builtin: "mnist", sampleShape: [784] },
        optimizer: { name: "adam", learningRate: 0.001 },
        batchSize: 256,
        epochs: 5,
        stepsPerEpoch: 30,
        seed: 1,
        live: false,
      });
      const counts = await cluster.run(async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const { counter, observer } = (globalThis as Record<string, unknown>).fullCollections as { counter: { full: number }; observer: { disconnect(): void } };
        observer.disconnect();
        return counter.full;
      });
      console.log(`# full collections in 150 steps, per rank: ${counts.join(", ")}`);
      // The defect this guards against gave one every 5-8 steps (19-30 here); healthy runs give
      // 2-9 (seen 2-8 in 6 runs and 9 once in CI), so the bound sits between the two.
      for (const [rank, count] of counts.entries()) assert.ok(count <= 14, `rank ${rank}: ${count} full collections in 150 steps`);
    });

    it("streams per-step metrics with per-rank timings and keeps a history", async () => {
      const run = cluster.train(mlpOptions({ epochs: 1 }));
      const seen: number[] = [];
      let samples = 0;
      const busyMsOfRank = [0, 0];
      for await (const step of run.metrics) {
        seen.push(step.step);
        samples += step.samples;
        for (const rank of step.ranks) busyMsOfRank[rank.rank]! += rank.stepMs;
        assert.equal(step.ranks.length, 2);
        for (const rank of step.ranks) {
          for (const key of ["dataMs", "computeMs", "communicationMs", "applyMs", "stepMs"] as const) assert.ok(rank[key] >= 0, `${key} of rank ${rank.rank}`);
        }
        assert.ok(step.samplesPerSecond > 0);
      }
      const result = await run;
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
      assert.equal(run.totalSteps, 6);
      assert.equal(result.history.length, 6);
      // Timed by the steps' own clocks, not by when their records reach this process in batches
      // (which made a short run look several times faster): a rank's steps follow one another, so
      // the run lasted about as long as any rank's summed step times. The margin covers the first
      // step's start, estimated from the slowest rank, on a run of a few milliseconds.
      const boundRate = (samples * 1000) / Math.max(...busyMsOfRank);
      assert.ok(result.samplesPerSecond > 0 && result.samplesPerSecond <= boundRate * 1.5, `run ${result.samplesPerSecond} vs at most ${boundRate} samples/s`);
      assert.ok(Number.isFinite(result.finalLoss));
    });

    it("stops every rank after the same step with identical weights, and resumes from the checkpoint to the same end", async () => {
      const dir = join(checkpoints, "stop");
      // 240 steps, reported every 10 ms, so that the stop lands early in the run.
      const options = mlpOptions({ epochs: 40, checkpoint: { dir, everySteps: 5 }, metricsIntervalMs: 10 });
      const run = cluster.train(options);
      for await (const step of run.metrics) if (step.step === 3) run.stop();
      const stopped = await run;
      assert.equal(stopped.stopped, true);
      assert.ok(stopped.steps >= 3 && stopped.steps < 240, `stopped at ${stopped.steps}`);
      const onRank0 = await weightsOf(await cluster.model({ rank: 0 }));
      const onRank1 = await weightsOf(await cluster.model({ rank: 1 }));
      assert.equal(maxAbsDifference(onRank0, onRank1), 0, "ranks hold identical weights after the stop");
      assert.ok((await readdir(dir)).length > 0, "a checkpoint was written at the stop");

      const resumed = await cluster.train({ ...options, resumeFrom: dir });
      assert.equal(resumed.steps, 240, "the resumed run ends where an uninterrupted one would");
      const afterResume = await weightsOf(await cluster.model());
      await cluster.train(mlpOptions({ epochs: 40 }));
      const uninterrupted = await weightsOf(await cluster.model());
      const difference = maxAbsDifference(afterResume, uninterrupted);
      assert.ok(difference < tolerance, `resumed vs uninterrupted: ${difference}`);
    });

    it("refuses bad options before any worker computes, naming the bad value", async () => {
      assert.throws(() => cluster.train(mlpOptions({ batchSize: 41 })), /batchSize 41 is not divisible by the 2 workers; use a multiple of 2, e.g. 42/);
      assert.throws(() => cluster.train(mlpOptions({ optimizer: { name: "adamw" } as never })), /unknown optimizer .*adamw/);
      assert.throws(() => cluster.train({ ...mlpOptions(), model: "dense" as never }), /model must be a function/);
      assert.deepEqual(
        cluster.describe().map((row) => row.state),
        ["ready", "ready"],
        "no task was sent",
      );
    });

    it("fails every rank before any step when the model does not build on one of them", async () => {
      const run = cluster.train(
        mlpOptions({
          model: ({ tf: t, rank }: { tf: typeof tf; rank: number }) => {
            if (rank === 1) throw new Error("this layer does not fit on rank 1");
            return t.sequential({ layers: [t.layers.dense({ inputShape: [12], units: 4, activation: "softmax" })] });
          },
        }),
      );
      const steps: number[] = [];
      const consumed = (async () => {
        for await (const step of run.metrics) steps.push(step.step);
      })();
      await assert.rejects(Promise.resolve(run), /rank 1: the model or data did not build: Error: this layer does not fit on rank 1/);
      await consumed;
      assert.deepEqual(steps, []);
      assert.deepEqual(await cluster.run(({ rank }) => rank), [0, 1], "the workers stay usable");
    });
  });

  it("ends the run within 1 s with an error naming the rank when a worker dies, leaving the last checkpoint intact", async () => {
    const cluster = await launchCluster({ workers: 2, backend });
    const dir = await mkdtemp(join(tmpdir(), "ringbook-ckpt-"));
    try {
      const run = cluster.train(mlpOptions({ epochs: 1000, checkpoint: { dir, everySteps: 2 } }));
      for await (const step of run.metrics) if (step.step >= 6) break;
      const victim = cluster.describe()[1]!.pid!;
      process.kill(victim, "SIGKILL");
      const { ms, error } = await timed(Promise.resolve(run));
      assert.ok(ms < 1000, `the run ended ${ms} ms after the kill`);
      assert.ok(error instanceof ClusterTaskError, String(error));
      assert.ok(error.failures[0]!.error instanceof WorkerDiedError, "the dead worker is the first failure");
      assert.match(error.message, new RegExp(`worker rank 1 \\(pid ${victim}\\) was killed by SIGKILL`));
      const { loadLayersModelFromDir } = await import("../../lib/training/checkpoint.js");
      const restored = await loadLayersModelFromDir(dir);
      assert.equal(restored.countParams(), 12 * 16 + 16 + 16 * 4 + 4);
      restored.dispose();
    } finally {
      await cluster.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// Training controls (issue 13): one warm cluster on the best CPU backend, tiny runs.
describe(`training controls on a 2-worker ${bestCpuBackend} cluster`, () => {
  let cluster: Cluster;
  before(async () => {
    await useInProcess(bestCpuBackend);
    cluster = await launchCluster({ workers: 2, backend: bestCpuBackend });
  });
  after(() => cluster.close());

  it("a learning-rate function, global-norm clipping and gradient accumulation give the weights and losses of single-process training", async () => {
    // 212 samples in micro-batches of 20: 11 per epoch, so 6 optimizer steps (the last of one short micro-batch of 12).
    const options = mlpOptions({
      batchSize: 20,
      accumulationSteps: 2,
      clipNorm: 0.5,
      optimizer: { name: "adam", learningRate: ({ step, totalSteps }: { step: number; totalSteps: number }) => 0.02 * (1 - step / totalSteps) },
      live: false,
    });
    const run = cluster.train(options);
    const result = await run;
    assert.equal(result.steps, 12);
    assert.equal(run.totalSteps, 12);
    const distributed = await weightsOf(await cluster.model());
    const { records } = await trainSingleProcess(options);
    assert.deepEqual(records.map((r) => r.globalSamples), [40, 40, 40, 40, 40, 12, 40, 40, 40, 40, 40, 12]);
    const alone = await trainAlone(options);
    const difference = maxAbsDifference(distributed, alone.weights);
    assert.ok(difference < tolerance, `max |difference| ${difference} ≥ ${tolerance}`);
    result.history.columns.loss.forEach((loss, i) => assert.ok(Math.abs(loss - alone.losses[i]!) < 1e-4, `step ${i + 1}: loss ${loss} vs ${alone.losses[i]}`));
    assert.deepEqual(records.map((r) => r.learningRate), Array.from({ length: 12 }, (_, step) => 0.02 * (1 - step / 12)));
  });

  it("callbacks see every step in order and each epoch's mean loss in the notebook, and returning false stops every rank", async () => {
    const seen: number[] = [];
    const epochs: Array<{ epoch: number; loss: number }> = [];
    let ended: unknown;
    const run = cluster.train(
      mlpOptions({
        optimizer: { name: "adam", learningRate: cosineDecay({ initialLearningRate: 0, warmupTarget: 0.02, warmupSteps: 3, decaySteps: 9 }) },
        callbacks: {
          onStepEnd: (step, logs) => {
            seen.push(step);
            assert.equal(logs.learningRate, learningRateAt(cosineDecay({ initialLearningRate: 0, warmupTarget: 0.02, warmupSteps: 3, decaySteps: 9 }), { step: step - 1, epoch: logs.epoch, stepsPerEpoch: 6, totalSteps: 12 }));
          },
          onEpochEnd: (epoch, logs) => void epochs.push({ epoch, loss: logs.loss }),
          onTrainEnd: (logs) => void (ended = logs),
        },
        live: false,
      }),
    );
    const result = await run;
    assert.deepEqual(seen, Array.from({ length: 12 }, (_, i) => i + 1));
    const { loss, samples: sampleCounts } = { loss: result.history.columns.loss, samples: [40, 40, 40, 40, 40, 12] };
    const mean = (from: number) => sampleCounts.reduce((sum, n, i) => sum + n * loss[from + i]!, 0) / 212;
    assert.deepEqual(epochs.map((e) => e.epoch), [0, 1]);
    epochs.forEach((e, i) => assert.ok(Math.abs(e.loss - mean(6 * i)) < 1e-6, `epoch ${i}: ${e.loss} vs ${mean(6 * i)}`));
    assert.deepEqual(result.epochs.map((e: EpochRecord) => e.logs.loss), epochs.map((e) => e.loss));
    assert.deepEqual(ended, { loss: result.finalLoss, steps: 12, stopped: false });

    // 240 steps, reported every 10 ms, so that the stop lands early in the run.
    const stopping = await cluster.train(mlpOptions({ epochs: 40, metricsIntervalMs: 10, callbacks: { onStepEnd: (step) => step < 3 }, live: false }));
    assert.equal(stopping.stopped, true);
    assert.ok(stopping.steps >= 3 && stopping.steps < 240, `stopped at ${stopping.steps}`);
    const onRank0 = await weightsOf(await cluster.model({ rank: 0 }));
    const onRank1 = await weightsOf(await cluster.model({ rank: 1 }));
    assert.equal(maxAbsDifference(onRank0, onRank1), 0, "ranks hold identical weights after the stop");
  });

  it("metrics and validation data give the epoch logs and validation passes of single-process training; callbacks and early stopping get val_ logs; cluster.model() evaluates with the metrics", async () => {
    // 50 validation samples in batches of 40: shards of 20 and 20, then 5 and 5.
    const validation = syntheticClassification({ size: 50, features: 12, classes: 4, seed: 9 });
    const { xs, ys } = validation.batch(Uint32Array.from({ length: 50 }, (_, i) => i));
    const validationData = { xs: xs.arraySync() as number[][], ys: ys.arraySync() as number[][] };
    const logs: Array<Record<string, number>> = [];
    const options = mlpOptions({
      metrics: ["accuracy", "mae"],
      validationData,
      validationEvery: { steps: 4, epochs: 1 },
      epochs: 3,
      earlyStopping: { monitor: "val_loss", minDelta: 1e9, patience: 1 },
      live: false,
    });
    const run = cluster.train({ ...options, callbacks: { onEpochEnd: (_epoch, epochLogs) => void logs.push(epochLogs) } });
    const result = await run;
    const alone = await trainSingleProcess(options);
    assert.deepEqual(result.earlyStopping, { stoppedEpoch: 1, bestEpoch: 0, best: result.epochs[0]!.logs.val_loss, restoredBestWeights: false });
    assert.equal(logs.length, 2);
    logs.forEach((epochLogs, i) => {
      assert.deepEqual(Object.keys(epochLogs).sort(), ["accuracy", "learningRate", "loss", "mae", "val_accuracy", "val_loss", "val_mae"]);
      for (const [name, value] of Object.entries(alone.epochs[i]!.logs)) assert.ok(Math.abs(epochLogs[name]! - value) < 1e-4, `epoch ${i} ${name}: ${epochLogs[name]} vs ${value}`);
    });
    assert.deepEqual(result.validations.map((v) => [v.step, v.samples]), [[4, 50], [6, 50], [8, 50], [12, 50]]);
    assert.deepEqual(run.validations.map((v) => v.step), [4, 6, 8, 12]);
    const model = await cluster.model();
    const evaluated = model.evaluate(xs, ys, { batchSize: 40 }) as tf.Scalar[];
    assert.equal(evaluated.length, 3, "loss, accuracy, mae");
    const last = result.epochs.at(-1)!.logs;
    const [loss, accuracy, mae] = evaluated.map((t) => t.dataSync()[0]!);
    assert.ok(Math.abs(loss! - last.val_loss!) < 1e-4 && Math.abs(accuracy! - last.val_accuracy!) < 1e-6 && Math.abs(mae! - last.val_mae!) < 1e-4, `evaluate ${[loss, accuracy, mae]} vs ${JSON.stringify(last)}`);
    model.dispose();
    // Distributed evaluate on the workers: the same as the last validation (the same data, the final weights).
    const distributed = await cluster.evaluate(validationData, { batchSize: 40 });
    assert.deepEqual(Object.keys(distributed).sort(), ["accuracy", "loss", "mae"]);
    assert.ok(Math.abs(distributed.loss! - last.val_loss!) < 1e-6 && distributed.accuracy === last.val_accuracy, `evaluate ${JSON.stringify(distributed)} vs ${JSON.stringify(last)}`);
    const onlyMse = await cluster.evaluate(({ args }: { args: { xs: number[][]; ys: number[][] } }) => args, { batchSize: 16, metrics: ["mse"], args: validationData });
    assert.deepEqual(Object.keys(onlyMse).sort(), ["loss", "mse"]);
    assert.ok(Math.abs(onlyMse.loss! - last.val_loss!) < 1e-5, "another batch size, the same loss");
    await assert.rejects(cluster.evaluate(validationData, { batchSize: 40, metric: ["mse"] } as never), /unknown option `evaluate.metric`; did you mean `evaluate.metrics`\?/);
    tf.dispose([xs, ys, ...evaluated]);
  });

  it("early stopping ends every rank at the same epoch and restores the best epoch's weights, as single-process training", async () => {
    // A minDelta no change can beat: epoch 0 is the best, epoch 1 does not improve on it, and patience 1 ends the run there.
    const options = mlpOptions({
      epochs: 6,
      optimizer: { name: "adam", learningRate: exponentialDecay({ initialLearningRate: 0.02, decaySteps: 6, decayRate: 0.5 }) },
      earlyStopping: { monitor: "loss", minDelta: 1e9, patience: 1, restoreBestWeights: true },
      live: false,
    });
    const result = await cluster.train(options);
    assert.equal(result.steps, 12, "stopped after epoch 1");
    assert.equal(result.stopped, false);
    assert.deepEqual(result.earlyStopping, { stoppedEpoch: 1, bestEpoch: 0, best: result.epochs[0]!.logs.loss, restoredBestWeights: true });
    const onRank0 = await weightsOf(await cluster.model({ rank: 0 }));
    const onRank1 = await weightsOf(await cluster.model({ rank: 1 }));
    assert.equal(maxAbsDifference(onRank0, onRank1), 0, "ranks hold identical weights after the restore");
    const bestEpoch = await trainAlone({ ...options, epochs: 1, earlyStopping: false });
    const difference = maxAbsDifference(onRank0, bestEpoch.weights);
    assert.ok(difference < tolerance, `restored vs a 1-epoch run: ${difference}`);
  });
});
