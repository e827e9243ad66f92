/**
 * Gradient clipping, applied to the all-reduced gradients (the flat array every rank received from
 * the same all-reduce), so every rank clips the same values the same way and the weights stay
 * identical. The semantics are tf.keras's: `clipNorm` is Keras's `global_clipnorm`
 * (`tf.clip_by_global_norm`: every gradient scaled by `clipNorm / max(globalNorm, clipNorm)`, the
 * norm taken over all gradients together), `clipValue` clamps each gradient value to
 * `[-clipValue, clipValue]`. As in Keras, only one of them may be set.
 */
import { RingbookError } from "../errors.js";

/** How the all-reduced gradients are clipped before the optimizer step. */
export type GradientClipping = { clipNorm: number } | { clipValue: number };

/**
 * Reads `clipNorm` and `clipValue` from the train options.
 * @returns undefined when neither is set.
 */
export function parseGradientClipping(options: { clipNorm?: unknown; clipValue?: unknown }): GradientClipping | undefined {
  const { clipNorm, clipValue } = options;
  if (clipNorm !== undefined && clipValue !== undefined) {
    throw new RingbookError("ERR_BAD_TRAIN_OPTIONS", `set one of clipNorm and clipValue, not both (got clipNorm ${JSON.stringify(clipNorm)} and clipValue ${JSON.stringify(clipValue)}), as in Keras`);
  }
  for (const [name, value] of [["clipNorm", clipNorm], ["clipValue", clipValue]] as const) {
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw new RingbookError("ERR_BAD_TRAIN_OPTIONS", `${name} must be a finite number > 0, got ${JSON.stringify(value)}`);
    }
    return name === "clipNorm" ? { clipNorm: value } : { clipValue: value };
  }
  return undefined;
}

/**
 * Clips `gradients` in place.
 * @returns the global L2 norm of the gradients before clipping (NaN for `clipValue`, which does not need it).
 * @example
 * const gradients = Float32Array.of(3, 4); // norm 5
 * clipGradients(gradients, { clipNorm: 1 }); // gradients are now [0.6, 0.8]
 */
export function clipGradients(gradients: Float32Array, clipping: GradientClipping): number {
  if ("clipValue" in clipping) {
    const limit = clipping.clipValue;
    for (let i = 0; i < gradients.length; i++) {
      const g = gradients[i]!;
      if (g > limit) gradients[i] = limit;
      else if (g < -limit) gradients[i] = -limit;
    }
    return Number.NaN;
  }
  // Summed in float64 (tf sums in float32): the norm is used for one scale factor only.
  let sumOfSquares = 0;
  for (let i = 0; i < gradients.length; i++) sumOfSquares += gradients[i]! * gradients[i]!;
  const norm = Math.sqrt(sumOfSquares);
  // tf.clip_by_global_norm: t · clip_norm / max(global_norm, clip_norm); a non-finite norm makes every gradient NaN, as there.
  if (!Number.isFinite(norm)) {
    gradients.fill(Number.NaN);
  } else if (norm > clipping.clipNorm) {
    const scale = clipping.clipNorm / norm;
    for (let i = 0; i < gradients.length; i++) gradients[i]! *= scale;
  }
  return norm;
}
