import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { resolveLoss, type LossFunction } from "./losses.js";

/**
 * What data-parallel training needs of a model: its trainable variables in an order that is the
 * same on every rank, and a scalar loss (mean over the batch) to differentiate.
 */
export interface Trainable {
  readonly variables: readonly tf.Variable[];
  /** Mean loss over the batch, in training mode, including regularisation terms. */
  loss(xs: tf.Tensor, ys: tf.Tensor): tf.Scalar;
  predict(xs: tf.Tensor): tf.Tensor;
}

/** A custom model made of `tf.variable`s and a loss function. */
export interface VariablesModel {
  variables: readonly tf.Variable[];
  /** Scalar mean loss of a batch. */
  loss: (xs: tf.Tensor, ys: tf.Tensor) => tf.Scalar;
  predict: (xs: tf.Tensor) => tf.Tensor;
}

/** Wraps a tfjs layers model (built) and a loss into a {@link Trainable}. */
export function trainableFromLayersModel(model: tf.LayersModel, loss: unknown): Trainable {
  const lossFn: LossFunction = resolveLoss(loss);
  if (model.trainableWeights.length === 0) {
    throw new RingbookError("ERR_MODEL_NOT_BUILT", `model "${model.name}" has no trainable weights: give its first layer an inputShape`);
  }
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  return {
    variables,
    loss: (xs, ys) =>
      tf.tidy((): tf.Scalar => {
        const output = model.apply(xs, { training: true });
        if (Array.isArray(output)) {
          throw new RingbookError("ERR_MODEL_OUTPUTS", `model "${model.name}" has ${output.length} outputs; data-parallel training supports one`);
        }
        const perSample = lossFn(ys, output as tf.Tensor);
        const dataLoss = perSample.rank === 0 ? (perSample as tf.Scalar) : (perSample.mean() as tf.Scalar);
        const regularisation = model.calculateLosses();
        return regularisation.length === 0 ? dataLoss : (tf.addN([dataLoss, ...regularisation]) as tf.Scalar);
      }),
    predict: (xs) => model.predict(xs) as tf.Tensor,
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
  return { variables: model.variables, loss: model.loss, predict: model.predict };
}

/** A layers model or a custom variables model, as a {@link Trainable}. */
export function toTrainable(model: unknown, loss: unknown): Trainable {
  if (model instanceof tf.LayersModel) return trainableFromLayersModel(model, loss);
  if (typeof model === "object" && model !== null && "variables" in model) return trainableFromVariables(model as VariablesModel);
  throw new RingbookError(
    "ERR_BAD_MODEL",
    `the model factory returned ${model === null ? "null" : typeof model}; expected a tf.LayersModel or { variables, loss, predict }`,
  );
}
