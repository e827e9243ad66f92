/**
 * The data forms of `cluster.train`, each as train options over the same 18 samples (3 features,
 * 3 classes, a regression target): shared by the in-process and the real-process oracle tests.
 * Batches of 8 make an uneven last batch of 2 (with 4 workers, two of them get no sample).
 * Functions here travel as source text: they name nothing outside themselves but `tf`, `args`
 * and ringbook's exports.
 */
import type * as tf from "@tensorflow/tfjs";
import type { TrainContext, TrainOptions } from "../../lib/training/train-spec.js";
import { TensorDataset } from "../../lib/data/tensor-dataset.js";

export const samples = 18;
/** Deterministic inputs in [-1, 1): sample i, feature j. */
const value = (i: number, j: number): number => Math.sin(i * 7.1 + j * 3.3);
export const features = Array.from({ length: samples }, (_, i) => [value(i, 0), value(i, 1), value(i, 2)]);
const classOf = (row: number[]): number => (row[0]! + row[1]! > 0 ? (row[2]! > 0 ? 2 : 1) : 0);
export const labels = features.map(classOf);
export const oneHot = labels.map((label) => [0, 1, 2].map((c) => (c === label ? 1 : 0)));
export const targets = features.map((row) => 2 * row[0]! - row[1]! + 0.5 * row[2]!);

export const classifier = ({ tf: t }: TrainContext) =>
  t.sequential({ layers: [t.layers.dense({ inputShape: [3], units: 5, activation: "relu" }), t.layers.dense({ units: 3, activation: "softmax" })] });
export const regressor = ({ tf: t }: TrainContext) =>
  t.sequential({ layers: [t.layers.dense({ inputShape: [3], units: 4, activation: "tanh" }), t.layers.dense({ units: 1 })] });

export const base = { optimizer: { name: "sgd", learningRate: 0.1 }, batchSize: 8, epochs: 2, seed: 3 } as const;

export const forms: Array<{ name: string; options: TrainOptions }> = [
  {
    name: "tensors { xs, ys } made by a data function",
    options: { ...base, model: classifier, args: { features, oneHot }, data: ({ tf: t, args }: TrainContext) => ({ xs: t.tensor2d(args.features), ys: t.tensor2d(args.oneHot) }) },
  },
  { name: "nested arrays given as the data", options: { ...base, model: classifier, data: { xs: features, ys: oneHot } } },
  {
    name: "typed arrays given as the data, regression with meanSquaredError (targets [n] for an output [n, 1])",
    options: { ...base, model: regressor, loss: "meanSquaredError", data: { xs: Float32Array.from(features.flat()), ys: Float32Array.from(targets) } },
  },
  {
    name: "sparse integer labels with sparseCategoricalCrossentropy",
    options: { ...base, model: classifier, loss: "sparseCategoricalCrossentropy", data: { xs: features, ys: Int32Array.from(labels) } },
  },
  {
    name: "a TensorDataset built in the data function (ringbook's exports are in scope there)",
    options: { ...base, model: classifier, args: { features, oneHot }, data: ({ args }: TrainContext) => new TensorDataset({ xs: args.features, ys: args.oneHot }) },
  },
  {
    name: "a tf.data.Dataset of known size",
    options: { ...base, model: classifier, args: { features, oneHot }, data: ({ tf: t, args }: TrainContext) => t.data.zip({ xs: t.data.array(args.features), ys: t.data.array(args.oneHot) }) },
  },
  {
    name: "a generator-backed tf.data.Dataset of unknown size",
    options: {
      ...base,
      model: classifier,
      args: { features, oneHot },
      data: ({ tf: t, args }: TrainContext) =>
        t.data.generator(function* () {
          for (let i = 0; i < args.features.length; i++) yield { xs: t.tensor1d(args.features[i]), ys: t.tensor1d(args.oneHot[i]) };
        }),
    },
  },
  {
    name: "a two-input, two-output model with inputs and targets by name, a loss and a loss weight per output",
    options: {
      ...base,
      model: ({ tf: t }: TrainContext) => {
        const a = t.input({ shape: [2], name: "a" });
        const b = t.input({ shape: [1], name: "b" });
        const hidden = t.layers.dense({ units: 5, activation: "relu" }).apply(t.layers.concatenate().apply([a, b])) as tf.SymbolicTensor;
        const price = t.layers.dense({ units: 1, name: "price" }).apply(hidden) as tf.SymbolicTensor;
        const kind = t.layers.dense({ units: 3, activation: "softmax", name: "kind" }).apply(hidden) as tf.SymbolicTensor;
        return t.model({ inputs: [a, b], outputs: [price, kind] });
      },
      loss: { price: "meanSquaredError", kind: "sparseCategoricalCrossentropy" },
      lossWeights: { price: 0.5, kind: 2 },
      data: {
        xs: { a: features.map((row) => [row[0]!, row[1]!]), b: features.map((row) => [row[2]!]) },
        ys: { price: targets, kind: Int32Array.from(labels) },
      },
    },
  },
];

