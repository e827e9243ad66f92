import * as tf from "@tensorflow/tfjs";
import type { KernelConfig } from "@tensorflow/tfjs";

import { conv2DBackpropFilterConfig } from "./conv2d-backprop-filter.js";
import { conv2DBackpropInputConfig } from "./conv2d-backprop-input.js";
import { depthwiseConv2dNativeBackpropFilterConfig } from "./depthwise-conv2d-backprop-filter.js";
import { depthwiseConv2dNativeBackpropInputConfig } from "./depthwise-conv2d-backprop-input.js";
import { unsortedSegmentSumConfig } from "./unsorted-segment-sum.js";

export { WasmKernelError } from "./wasm-kernel-scope.js";

/** Kernels tfjs-backend-wasm 4.22 lacks that the gradients of common layers need. */
const missingKernels: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  unsortedSegmentSumConfig,
];

/** Kernels the wasm backend has, but slowly, that a faster composition may replace. */
const fasterKernels: readonly KernelConfig[] = [conv2DBackpropInputConfig];

/** Options for {@link registerMissingWasmKernels}. */
export interface RegisterWasmKernelsOptions {
  /**
   * Also replace kernels the wasm backend has but runs slowly (today `Conv2DBackpropInput`, a
   * direct loop 5–10x slower than a convolution) with compositions of its fast kernels.
   * @default true
   */
  replaceSlowKernels?: boolean;
}

/**
 * Registers, for the `wasm` backend, the gradient kernels it lacks (`Conv2DBackpropFilter`,
 * `DepthwiseConv2dNativeBackpropFilter`, `DepthwiseConv2dNativeBackpropInput`,
 * `UnsortedSegmentSum`), each composed of the backend's own fast kernels, so that conv, depthwise
 * and embedding layers train on wasm. Idempotent: a kernel that is already registered (by tfjs or
 * an earlier call) is left alone. Call it before or after `tf.setBackend("wasm")`.
 *
 * @returns the names of the kernels this call registered (empty on a repeat call)
 * @example
 * await tf.setBackend("wasm");
 * registerMissingWasmKernels();
 */
export function registerMissingWasmKernels(options: RegisterWasmKernelsOptions = {}): string[] {
  const registered: string[] = [];
  for (const config of missingKernels) {
    if (tf.getKernel(config.kernelName, "wasm") !== undefined) continue;
    tf.registerKernel(config);
    registered.push(config.kernelName);
  }
  if (options.replaceSlowKernels ?? true) {
    for (const config of fasterKernels) {
      const current = tf.getKernel(config.kernelName, "wasm");
      if (current?.kernelFunc === config.kernelFunc) continue;
      if (current !== undefined) tf.unregisterKernel(config.kernelName, "wasm");
      tf.registerKernel(config);
      registered.push(config.kernelName);
    }
  }
  return registered;
}
