import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { treeLeaves, type TensorTree } from "../data/tensor-tree.js";
import { resolveLosses, type LossWeights, type ResolvedLoss } from "./losses.js";
import { arrange, portsOf, withTrailingAxis, type ModelPorts } from "./model-io.js";

/**
 * Sees the outputs a loss was computed from and their targets (one of each per model output),
 * inside the loss's tidy: metrics read them there without a second forward pass.
 */
export type OutputObserver = (outputs: readonly tf.Tensor[], targets: readonly tf.Tensor[]) => void;

/**
 * What data-parallel training needs of a model: its trainable variables in an order that is the
 * same on every rank, and a scalar loss (mean over the batch) to differentiate.
 */
export interface Trainable {
  readonly variables: readonly tf.Variable[];
  /**
   * Mean loss over the batch, in training mode, including regularisation terms; for several
   * outputs, the sum of each output's mean loss times its loss weight.
   */
  loss(xs: TensorTree, ys: TensorTree, observe?: OutputObserver): tf.Scalar;
  /**
   * Mean loss over the batch in inference mode (dropout off, as Keras's `evaluate`), including
   * regularisation terms: what validation and `evaluate` report.
   */
  evaluateLoss(xs: TensorTree, ys: TensorTree, observe?: OutputObserver): tf.Scalar;
  /** The model's outputs for `xs` in inference mode: one tensor, or one per output. */
  predict(xs: TensorTree): tf.Tensor | tf.Tensor[];
  /** A layers model's inputs and outputs, and the loss of each output; absent for a custom model. */
  readonly layers?: { model: tf.LayersModel; ports: ModelPorts; losses: ResolvedLoss[] };
}

/** A custom model made of `tf.variable`s and a loss function. */
export interface VariablesModel {
  variables: readonly tf.Variable[];
  /** Scalar mean loss of a batch; `xs` and `ys` are what the data gives (a tensor, or an array or map of tensors). */
  loss(xs: TensorTree, ys: TensorTree): tf.Scalar;
  predict(xs: TensorTree): tf.Tensor | tf.Tensor[];
}

/**
 * Wraps a tfjs layers model (built) and a loss into a {@link Trainable}. `loss` is a name or a
 * function for every output, or one per output (an array in the model's output order, or a map
 * by output name); the losses of several outputs are summed, each times its weight in
 * `lossWeights` (1 when not given).
 */
export function trainableFromLayersModel(model: tf.LayersModel, loss: unknown, lossWeights?: LossWeights): Trainable {
  if (model.trainableWeights.length === 0) {
    throw new RingbookError("ERR_MODEL_NOT_BUILT", `model "${model.name}" has no trainable weights: give its first layer an inputShape`);
  }
  const ports = portsOf(model);
  const losses = resolveLosses(loss, ports.outputs.map((output) => output.name), lossWeights);
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  const apply = (xs: TensorTree, training: boolean): tf.Tensor[] => {
    const inputs = arrange(xs, ports.inputs, "inputs").map((tensor, i) => withTrailingAxis(tensor, ports.inputs[i]!.sampleShape));
    const output = model.apply(inputs.length === 1 ? inputs[0]! : inputs, { training }) as tf.Tensor | tf.Tensor[];
    return Array.isArray(output) ? output : [output];
  };
  const lossOf = (xs: TensorTree, ys: TensorTree, training: boolean, observe: OutputObserver | undefined): tf.Scalar =>
    tf.tidy((): tf.Scalar => {
      const outputs = apply(xs, training);
      const arranged = arrange(ys, ports.outputs, "targets");
      const targets = losses.map((resolved, i) => (resolved.name === "sparseCategoricalCrossentropy" ? arranged[i]! : withTrailingAxis(arranged[i]!, ports.outputs[i]!.sampleShape)));
      const perOutput = losses.map((resolved, i) => {
        const perSample = resolved.fn(targets[i]!, outputs[i]!);
        const mean = perSample.rank === 0 ? (perSample as tf.Scalar) : (perSample.mean() as tf.Scalar);
        // A weight of 1 adds no multiplication: unweighted runs stay bit-identical to model.fit's.
        return resolved.weight === 1 ? mean : (tf.mul(mean, resolved.weight) as tf.Scalar);
      });
      observe?.(outputs, targets);
      const terms = [...perOutput, ...model.calculateLosses()];
      return terms.length === 1 ? terms[0]! : (tf.addN(terms) as tf.Scalar);
    });
  return {
    variables,
    layers: { model, ports, losses },
    loss: (xs, ys, observe) => lossOf(xs, ys, true, observe),
    evaluateLoss: (xs, ys, observe) => lossOf(xs, ys, false, observe),
    predict: (xs) =>
      tf.tidy(() => {
        const outputs = apply(xs, false);
        return outputs.length === 1 ? outputs[0]! : outputs;
      }),
  };
}

/** Recognises a custom {@link VariablesModel} and checks its parts. */
export function trainableFromVariables(model: VariablesModel): Trainable {
  if (!Array.isArray(model.variables) || model.variables.length === 0 || !model.variables.every((v) => v instanceof tf.Variable)) {
    throw new RingbookError("ERR_BAD_MODEL", "a custom model needs `variables`: a non-empty array of tf.Variable");
  }
  if (typeof model.loss !== "function" || typeof model.predict !== "function") {
    throw new RingbookError("ERR_BAD_MODEL", "a custom model needs `loss(xs, ys)` and `predict(xs)` functions");
  }
  // A custom model has no training mode, and its loss gives no outputs: metrics predict again.
  const lossOf = (xs: TensorTree, ys: TensorTree, observe: OutputObserver | undefined): tf.Scalar => {
    const loss = model.loss(xs, ys);
    if (observe !== undefined) {
      tf.tidy(() => {
        const outputs = model.predict(xs);
        observe(Array.isArray(outputs) ? outputs : [outputs], treeLeaves(ys));
      });
    }
    return loss;
  };
  return { variables: model.variables, loss: lossOf, evaluateLoss: lossOf, predict: (xs) => model.predict(xs) };
}

/** A layers model or a custom variables model, as a {@link Trainable}. */
export function toTrainable(model: unknown, loss: unknown, lossWeights?: LossWeights): Trainable {
  if (model instanceof tf.LayersModel) return trainableFromLayersModel(model, loss, lossWeights);
  if (typeof model === "object" && model !== null && "variables" in model) {
    if (lossWeights !== undefined) {
      throw new RingbookError("ERR_BAD_MODEL", "lossWeights weights a layers model's outputs; a custom model ({ variables, loss, predict }) computes its own loss: weight its terms in its loss function");
    }
    return trainableFromVariables(model as VariablesModel);
  }
  throw new RingbookError(
    "ERR_BAD_MODEL",
    `the model factory returned ${model === null ? "null" : typeof model}; expected a tf.LayersModel or { variables, loss, predict }`,
  );
}
