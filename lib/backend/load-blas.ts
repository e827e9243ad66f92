/**
 * The `wasm-blas` backend: tfjs's wasm backend with ringbook's native kernels (OpenBLAS sgemm
 * for matrix products and convolutions, native max-pool and bias gradients) working zero-copy in
 * its heap. tfjs still calls it "wasm" (`tf.getBackend()`); ringbook names it `wasm-blas`
 * ({@link activeBackendName}).
 */
import tf from "../tfjs.cjs";

import { RingbookError } from "../errors.js";
import { useWasmBackend } from "./load-wasm.js";
import { loadBlasAddon, type BlasInfo } from "./native/blas-addon.js";
import { installNativeKernels, nativeKernelsInstalled, uninstallNativeKernels } from "./native/index.js";
import { checkWasmInternals } from "./native/wasm-heap.js";

/** Raised when the native backend cannot be used here; its message is the reason. */
export class BlasBackendError extends RingbookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_BLAS_BACKEND", message, options);
  }
}

/** What {@link useBlasBackend} set up. */
export interface BlasBackendInfo {
  /** One line for `describe()`, e.g. "OpenBLAS 0.3.21 (Haswell kernels, 1 thread) in the wasm heap". */
  summary: string;
  addonPath: string;
  blas: BlasInfo;
}

/**
 * Makes tfjs use the wasm backend with ringbook's native kernels. Safe to call more than once;
 * {@link useWasmBackend} goes back to plain wasm.
 * @throws {@link BlasBackendError} saying why when the addon is missing or does not load, the
 *   tfjs version is not the one the zero-copy path was written for, or its self-test fails; the
 *   wasm backend is then selected, plain.
 * @example
 * try { await useBlasBackend(); } catch (error) { await useWasmBackend(); }
 */
export async function useBlasBackend(): Promise<BlasBackendInfo> {
  const load = loadBlasAddon();
  if (!load.loaded) {
    await useWasmBackend();
    throw new BlasBackendError(load.reason);
  }
  if (nativeKernelsInstalled() && tf.getBackend() === "wasm") return infoOf(load.path, load.info);
  await useWasmBackend();
  const { version_wasm: wasmVersion } = await import("@tensorflow/tfjs-backend-wasm");
  try {
    checkWasmInternals(wasmVersion);
  } catch (error) {
    throw new BlasBackendError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  installNativeKernels(load.addon);
  try {
    selfTest();
  } catch (error) {
    uninstallNativeKernels();
    throw new BlasBackendError(`the native kernels failed their self-test: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return infoOf(load.path, load.info);
}

function infoOf(addonPath: string, blas: BlasInfo): BlasBackendInfo {
  const version = /OpenBLAS\s+(\S+)/.exec(blas.config)?.[1] ?? "?";
  return { summary: `OpenBLAS ${version} (${blas.core} kernels, ${blas.threads} thread${blas.threads === 1 ? "" : "s"}) zero-copy in the wasm heap`, addonPath, blas };
}

/** A product with both transposes and a strided convolution, against values worked out by hand. */
function selfTest(): void {
  const [product, conv] = tf.tidy(() => {
    const a = tf.tensor2d([1, 3, 2, 4], [2, 2]); // [[1,2],[3,4]] transposed
    const b = tf.tensor2d([5, 7, 6, 8], [2, 2]); // [[5,6],[7,8]] transposed
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const filter = tf.tensor4d([1, 0, 0, 1], [2, 2, 1, 1]);
    return [tf.matMul(a, b, true, true).dataSync(), tf.conv2d(x, filter, 2, "same").dataSync()];
  });
  const expectations: Array<[string, ArrayLike<number>, number[]]> = [
    ["matMul with both transposes", product, [19, 22, 43, 50]],
    ["conv2d with stride 2 and same padding", conv, [6, 3, 7, 9]],
  ];
  for (const [what, actual, expected] of expectations) {
    if ([...Array.from(actual)].join() !== expected.join()) throw new Error(`${what} gave [${Array.from(actual).join(", ")}], expected [${expected.join(", ")}]`);
  }
}

/**
 * ringbook's name for the backend tfjs uses now: `wasm-blas` when the native kernels are
 * installed over wasm, otherwise tfjs's own name (`wasm`, `cpu`, `tensorflow`).
 */
export function activeBackendName(): string {
  const tfjsName = tf.getBackend();
  return tfjsName === "wasm" && nativeKernelsInstalled() ? "wasm-blas" : tfjsName;
}
