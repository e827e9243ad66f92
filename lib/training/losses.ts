import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { suggestName } from "./option-names.js";

/** A per-sample loss: `[n, ...]` targets and predictions → `[n]` (or a scalar mean). */
export type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/**
 * Categorical crossentropy of class indices (`[n]` or `[n, 1]`, integers stored as any dtype)
 * against class probabilities `[n, classes]`, as Keras's `sparse_categorical_crossentropy`.
 */
function sparseCategoricalCrossentropy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const classes = yPred.shape[yPred.rank - 1]!;
    const flat = tf.reshape(yTrue, [-1]);
    const labels = flat.dtype === "int32" ? flat : tf.cast(tf.floor(flat), "int32");
    const oneHot = tf.reshape(tf.oneHot(labels, classes), yPred.shape);
    return tf.metrics.categoricalCrossentropy(oneHot, yPred);
  });
}

const namedLosses = {
  categoricalCrossentropy: tf.metrics.categoricalCrossentropy,
  sparseCategoricalCrossentropy,
  binaryCrossentropy: tf.metrics.binaryCrossentropy,
  meanSquaredError: tf.metrics.meanSquaredError,
  meanAbsoluteError: tf.metrics.meanAbsoluteError,
} satisfies Record<string, LossFunction>;

/** Names accepted by {@link resolveLoss}. */
export type LossName = keyof typeof namedLosses;

/** Every loss name, in the order the messages list them. */
export const lossNames: readonly LossName[] = Object.keys(namedLosses) as LossName[];

/** True for a loss ringbook knows by name. */
export function isLossName(value: unknown): value is LossName {
  return typeof value === "string" && Object.hasOwn(namedLosses, value);
}

/** One output's loss: a name, or `(yTrue, yPred) => tensor` (per sample, or a scalar mean). */
export type OutputLoss = LossName | LossFunction;

/**
 * A model's loss: one for every output (summed over the outputs), or one per output, by position
 * (an array in the model's output order) or by output name.
 */
export type ModelLoss = OutputLoss | readonly OutputLoss[] | { readonly [outputName: string]: OutputLoss };

/** One output's loss, resolved. */
export interface ResolvedLoss {
  /** The model's output it applies to. */
  output: string;
  /** Its name, or `undefined` for a function. */
  name: LossName | undefined;
  fn: LossFunction;
  /** What the output's mean loss is multiplied by in the total (Keras's `loss_weights`). */
  weight: number;
}

/**
 * Per-output loss weights (Keras's `loss_weights`): one number per output in the model's output
 * order, or a map by output name (an output it does not name weighs 1). The model's loss is
 * `Σ weight × mean loss of the output` (plus regularisation terms, unweighted, as in Keras).
 */
export type LossWeights = readonly number[] | { readonly [outputName: string]: number };

/**
 * The weight of each of the model's outputs (in `outputNames` order): an array needs one per
 * output; a map may leave outputs out (they weigh 1) but must name only outputs the model has.
 * @default 1 for every output
 */
export function resolveLossWeights(weights: LossWeights | undefined, outputNames: readonly string[]): number[] {
  if (weights === undefined) return outputNames.map(() => 1);
  const outputs = `${outputNames.length} output${outputNames.length === 1 ? "" : "s"} (${outputNames.join(", ")})`;
  if (Array.isArray(weights)) {
    if (weights.length !== outputNames.length) {
      throw new RingbookError("ERR_LOSS_OUTPUTS", `lossWeights has ${weights.length} entries but the model has ${outputs}; give one weight per output, in that order, or a map by output name`);
    }
    return [...weights];
  }
  const byName = weights as Readonly<Record<string, number>>;
  for (const key of Object.keys(byName)) {
    if (!outputNames.includes(key)) {
      throw new RingbookError("ERR_LOSS_OUTPUTS", `lossWeights names output "${key}", which the model does not have${suggestName(key, outputNames)}; the model has ${outputs}`);
    }
  }
  return outputNames.map((output) => (Object.hasOwn(byName, output) ? byName[output]! : 1));
}

/** Looks a loss up by name (as in `model.compile`) or passes a function through. */
export function resolveLoss(loss: unknown): LossFunction {
  if (typeof loss === "function") return loss as LossFunction;
  if (isLossName(loss)) return namedLosses[loss];
  throw new RingbookError(
    "ERR_UNKNOWN_LOSS",
    `unknown loss ${JSON.stringify(loss)}${typeof loss === "string" ? suggestName(loss, lossNames) : ""}; use a function (yTrue, yPred) => tensor or one of ${lossNames.join(", ")}`,
  );
}

/**
 * The loss of each of the model's outputs (in `outputNames` order) from a {@link ModelLoss}: an
 * array must have one entry per output, a map one per output name; each with its weight from
 * `weights` (see {@link resolveLossWeights}).
 */
export function resolveLosses(loss: unknown, outputNames: readonly string[], weights?: LossWeights): ResolvedLoss[] {
  const weightOf = resolveLossWeights(weights, outputNames);
  const one = (value: unknown, output: string): ResolvedLoss => ({
    output,
    name: isLossName(value) ? value : undefined,
    fn: resolveLoss(value),
    weight: weightOf[outputNames.indexOf(output)]!,
  });
  if (Array.isArray(loss)) {
    if (loss.length !== outputNames.length) {
      throw new RingbookError(
        "ERR_LOSS_OUTPUTS",
        `loss has ${loss.length} entries but the model has ${outputNames.length} output${outputNames.length === 1 ? "" : "s"} (${outputNames.join(", ")}); give one loss per output, in that order, or one loss for all`,
      );
    }
    return outputNames.map((output, i) => one(loss[i], output));
  }
  if (typeof loss === "object" && loss !== null) {
    const byName = loss as Record<string, unknown>;
    for (const key of Object.keys(byName)) {
      if (!outputNames.includes(key)) {
        throw new RingbookError("ERR_LOSS_OUTPUTS", `loss names output "${key}", which the model does not have${suggestName(key, outputNames)}; its outputs are ${outputNames.join(", ")}`);
      }
    }
    return outputNames.map((output) => {
      if (!Object.hasOwn(byName, output)) {
        throw new RingbookError("ERR_LOSS_OUTPUTS", `loss gives no loss for output "${output}"; the model's outputs are ${outputNames.join(", ")}`);
      }
      return one(byName[output], output);
    });
  }
  return outputNames.map((output) => one(loss, output));
}
