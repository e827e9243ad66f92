/**
 * Installs ringbook's native kernels over the wasm backend's (and takes them off again): the
 * `wasm-blas` backend is tfjs's wasm backend with its matrix products, convolutions, max-pool
 * gradient, bias and bias gradient replaced by the native addon's, working in the wasm heap, an
 * Identity and same-dtype Cast that share memory instead of copying it, and ReLU's gradient in one
 * pass. Everything else (elementwise kernels, pooling forward, softmax, ...) stays wasm's.
 */
import tf from "../../tfjs.cjs";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs";

import type { BlasAddon } from "./blas-addon.js";
import {
  nativeConv2DBackpropFilterConfig,
  nativeConv2DBackpropInputConfig,
  nativeConv2DConfig,
  nativeFusedConv2DConfig,
  nativeMaxPoolGradConfig,
} from "./conv-kernels.js";
import { nativeAddConfig, nativeReluGradConfig, reluGradKernelName, sharingCastConfig, sharingIdentityConfig } from "./elementwise-kernels.js";
import { nativeBatchMatMulConfig, nativeFusedMatMulConfig } from "./matmul-kernels.js";
import { installReluGradient, uninstallReluGradient } from "./relu-gradient.js";
import { nativeSumConfig } from "./sum-kernel.js";

/** Each native kernel, made from the addon and the kernel it replaces (its fallback, if any). */
const nativeKernels: ReadonlyArray<{ kernelName: string; create: (addon: BlasAddon, replaced: KernelFunc | undefined) => KernelConfig }> = [
  { kernelName: tf.BatchMatMul, create: (addon) => nativeBatchMatMulConfig(addon) },
  { kernelName: tf._FusedMatMul, create: (addon) => nativeFusedMatMulConfig(addon) },
  { kernelName: tf.Conv2D, create: nativeConv2DConfig },
  { kernelName: tf.FusedConv2D, create: nativeFusedConv2DConfig },
  { kernelName: tf.Conv2DBackpropInput, create: nativeConv2DBackpropInputConfig },
  { kernelName: tf.Conv2DBackpropFilter, create: nativeConv2DBackpropFilterConfig },
  { kernelName: tf.MaxPoolGrad, create: (addon) => nativeMaxPoolGradConfig(addon) },
  { kernelName: tf.Sum, create: nativeSumConfig },
  { kernelName: tf.Add, create: nativeAddConfig },
  { kernelName: tf.Identity, create: (_addon, replaced) => sharingIdentityConfig(replaced) },
  { kernelName: tf.Cast, create: (_addon, replaced) => sharingCastConfig(replaced) },
  { kernelName: reluGradKernelName, create: (addon) => nativeReluGradConfig(addon) },
];

/** The kernels the native ones replaced, to put back on {@link uninstallNativeKernels}. */
let replacedKernels: Map<string, KernelConfig | undefined> | undefined;

/** The names of the kernels the native backend provides. */
export const nativeKernelNames: readonly string[] = nativeKernels.map((kernel) => kernel.kernelName);

/** Whether the native kernels are the wasm backend's now. */
export function nativeKernelsInstalled(): boolean {
  return replacedKernels !== undefined;
}

/**
 * Registers the native kernels for the wasm backend, keeping the replaced ones (their setup, which
 * initialises wasm functions a fallback may call, stays). Idempotent.
 */
export function installNativeKernels(addon: BlasAddon): void {
  if (replacedKernels !== undefined) return;
  const replaced = new Map<string, KernelConfig | undefined>();
  for (const { kernelName, create } of nativeKernels) {
    const current = tf.getKernel(kernelName, "wasm");
    replaced.set(kernelName, current);
    const config = create(addon, current?.kernelFunc);
    if (current !== undefined) tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({ ...config, setupFunc: current?.setupFunc, disposeFunc: current?.disposeFunc });
  }
  replacedKernels = replaced;
  installReluGradient(() => replacedKernels !== undefined && tf.getBackend() === "wasm");
}

/** Puts back the kernels {@link installNativeKernels} replaced (plain wasm again). Idempotent. */
export function uninstallNativeKernels(): void {
  if (replacedKernels === undefined) return;
  uninstallReluGradient();
  for (const [kernelName, previous] of replacedKernels) {
    tf.unregisterKernel(kernelName, "wasm");
    if (previous !== undefined) tf.registerKernel(previous);
  }
  replacedKernels = undefined;
}
