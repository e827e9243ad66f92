/**
 * The models and measurement shared by bench/training.ts and the compute-only processes it
 * starts: the same model, data and step-time accounting everywhere, so ratios compare like with
 * like. Steady-state throughput = samples / summed step time of the steps after the warm-up
 * (a step's time covers data, forward and backward, communication and apply).
 */
import type * as tfType from "@tensorflow/tfjs";
import { mnistDigits, type TrainOptions } from "../lib/index.js";
import type { StepRecord } from "../lib/training/rank-loop.js";

export type BenchModel = "mlp" | "cnn";

/** Per-process batch size of each model (ANCHORS.md's reference runs). */
export const perProcessBatch: Record<BenchModel, number> = { mlp: 128, cnn: 64 };

let mnistTrainSize: number | undefined;

/**
 * Train options of `model` for a world of `workers`, `steps` steps (the batch is per process),
 * over as many epochs of the MNIST training digits as that takes.
 */
export function benchTrainOptions(model: BenchModel, workers: number, steps: number): TrainOptions {
  const batchSize = perProcessBatch[model] * workers;
  mnistTrainSize ??= mnistDigits().train.size;
  const batchesPerEpoch = Math.floor(mnistTrainSize / batchSize);
  const epochs = Math.ceil(steps / batchesPerEpoch);
  const common = {
    batchSize,
    epochs,
    stepsPerEpoch: Math.ceil(steps / epochs),
    seed: 1,
    optimizer: { name: "adam" as const, learningRate: 0.001 },
    live: false,
    metricsIntervalMs: 500,
  };
  return { ...common, model: benchModels[model], data: { builtin: "mnist", sampleShape: model === "mlp" ? [784] : [28, 28, 1] } };
}

/**
 * The benchmark models. Each function stands alone (it travels to workers as source text), so
 * it names nothing outside itself.
 */
export const benchModels: Record<BenchModel, (context: { tf: typeof tfType }) => tfType.Sequential> = {
  mlp: ({ tf }) =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [784], units: 256, activation: "relu" }),
        tf.layers.dense({ units: 256, activation: "relu" }),
        tf.layers.dense({ units: 10, activation: "softmax" }),
      ],
    }),
  cnn: ({ tf }) =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: "relu" }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu" }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 128, activation: "relu" }),
        tf.layers.dense({ units: 10, activation: "softmax" }),
      ],
    }),
};

/** Steady-state samples per second from per-step (samples, milliseconds), skipping `warmup` steps. */
export function steadySamplesPerSecond(steps: ReadonlyArray<{ samples: number; stepMs: number }>, warmup: number): number {
  const kept = steps.slice(warmup);
  const samples = kept.reduce((sum, step) => sum + step.samples, 0);
  const ms = kept.reduce((sum, step) => sum + step.stepMs, 0);
  return ms > 0 ? (samples * 1000) / ms : 0;
}

/** Per-step (samples, ms) of one rank's records. */
export function stepsOf(records: readonly StepRecord[]): Array<{ samples: number; stepMs: number }> {
  return [...records].sort((a, b) => a.step - b.step).map((record) => ({ samples: record.globalSamples, stepMs: record.stepMs }));
}
