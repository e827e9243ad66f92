import tf from "../../tfjs.cjs";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs";

import { createBatchMatMulConfig } from "./batch-mat-mul.js";
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

/**
 * Kernels the wasm backend has, but slowly, that a faster composition may replace; each is made
 * from the kernel it replaces, which it may call for the cases that are already fast.
 */
const fasterKernels: ReadonlyArray<{ kernelName: string; create: (replaced: KernelFunc | undefined) => KernelConfig }> = [
  { kernelName: tf.Conv2DBackpropInput, create: () => conv2DBackpropInputConfig },
  { kernelName: tf.BatchMatMul, create: createBatchMatMulConfig },
];

/** The kernel functions this module registered, to recognise them on a repeat call. */
const registeredByUs = new WeakSet<KernelFunc>();

/** Options for {@link registerMissingWasmKernels}. */
export interface RegisterWasmKernelsOptions {
  /**
   * Also replace kernels the wasm backend has but runs slowly with compositions of its fast
   * kernels: `Conv2DBackpropInput` (a direct loop 5–10x slower than a convolution) and
   * `BatchMatMul` with a transposed operand (5–20x slower than transposing first).
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
    for (const { kernelName, create } of fasterKernels) {
      const current = tf.getKernel(kernelName, "wasm");
      if (current !== undefined && registeredByUs.has(current.kernelFunc)) continue;
      const config = create(current?.kernelFunc);
      // Keep the replaced kernel's setup (it initialises the wasm function the new one may call).
      if (current !== undefined) tf.unregisterKernel(kernelName, "wasm");
      tf.registerKernel({ ...config, setupFunc: current?.setupFunc, disposeFunc: current?.disposeFunc });
      registeredByUs.add(config.kernelFunc);
      registered.push(kernelName);
    }
  }
  return registered;
}
