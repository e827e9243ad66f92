import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";

/** A per-sample loss: `[n, ...]` targets and predictions → `[n]` (or a scalar mean). */
export type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

const namedLosses = {
  categoricalCrossentropy: tf.metrics.categoricalCrossentropy,
  binaryCrossentropy: tf.metrics.binaryCrossentropy,
  meanSquaredError: tf.metrics.meanSquaredError,
  meanAbsoluteError: tf.metrics.meanAbsoluteError,
} satisfies Record<string, LossFunction>;

/** Names accepted by {@link resolveLoss}. */
export type LossName = keyof typeof namedLosses;

/** Looks a loss up by name (as in `model.compile`) or passes a function through. */
export function resolveLoss(loss: LossName | LossFunction | unknown): LossFunction {
  if (typeof loss === "function") return loss as LossFunction;
  if (typeof loss === "string" && Object.hasOwn(namedLosses, loss)) return namedLosses[loss as LossName];
  throw new RingbookError(
    "ERR_UNKNOWN_LOSS",
    `unknown loss ${JSON.stringify(loss)}; use a function (yTrue, yPred) => tensor or one of ${Object.keys(namedLosses).join(", ")}`,
  );
}
