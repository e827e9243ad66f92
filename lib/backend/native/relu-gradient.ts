/**
 * ReLU's gradient through one native pass on wasm-blas. tfjs composes it as
 * `mul(dy, cast(step(x)))`: three kernels and two tensors the size of the activation, per ReLU
 * layer and step. The gradient registry is global (every backend), so the registered gradient
 * checks at each use: the native kernel where the native kernels are the wasm backend's and no
 * tape is recording (a gradient of this gradient needs tfjs's differentiable composition), and
 * tfjs's own gradient otherwise. Results are the same products (dy · 1, dy · 0 or NaN).
 */
import tf from "../../tfjs.cjs";
import type { GradConfig } from "@tensorflow/tfjs";

import { reluGradKernelName } from "./elementwise-kernels.js";

/** tfjs's gradient of Relu, while ringbook's replaces it. */
let original: GradConfig | undefined;

/** Whether a gradient computed now is itself recorded for differentiation. */
function tapeRecording(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  // Without the method (another tfjs) assume it is: tfjs's composition is always correct.
  return typeof engine.isTapeOn !== "function" || engine.isTapeOn();
}

/** Replaces tfjs's Relu gradient; `useNative` says whether the native kernel may run now. Idempotent. */
export function installReluGradient(useNative: () => boolean): void {
  if (original !== undefined) return;
  const tfjsGradient = tf.getGradient(tf.Relu);
  if (tfjsGradient === undefined) return;
  original = tfjsGradient;
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      if (x === undefined || Array.isArray(dy) || x.dtype !== "float32" || !useNative() || tapeRecording()) return tfjsGradient.gradFunc(dy, saved, attrs);
      return { x: () => tf.engine().runKernel(reluGradKernelName, { dy, x }) as tf.Tensor };
    },
  });
}

/** Puts tfjs's Relu gradient back. Idempotent. */
export function uninstallReluGradient(): void {
  if (original === undefined) return;
  tf.registerGradient(original);
  original = undefined;
}
