import { createRequire } from "node:module";
import { dirname } from "node:path";

import tf from "../tfjs.cjs";

import { RingbookError } from "../errors.js";
import { uninstallNativeKernels } from "./native/index.js";
import { registerMissingWasmKernels, type RegisterWasmKernelsOptions } from "./wasm-kernels/index.js";

/** Raised when the wasm backend cannot be loaded or selected. */
export class WasmBackendError extends RingbookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("WASM_BACKEND", message, options);
  }
}

/**
 * The folder holding tfjs-backend-wasm's `.wasm` binaries (with a trailing slash, as
 * `setWasmPaths` wants), found through Node's resolver so it works from any working directory.
 */
export function wasmBinaryDirectory(): string {
  const require = createRequire(import.meta.url);
  return `${dirname(require.resolve("@tensorflow/tfjs-backend-wasm"))}/`;
}

/**
 * Makes tfjs use the wasm backend (SIMD, one thread: wasm threads cannot start in Node) and
 * registers the kernels it lacks for training (see {@link registerMissingWasmKernels}).
 * Safe to call more than once; after `useBlasBackend` it takes the native kernels off again
 * (plain wasm).
 *
 * @example
 * await useWasmBackend();
 * // tf.getBackend() === "wasm"; conv layers now train
 */
export async function useWasmBackend(options: RegisterWasmKernelsOptions = {}): Promise<void> {
  // Imported here, not at the top: importing the package registers the wasm backend with a higher
  // priority than cpu, uninitialised, and every tfjs call in the process that did not await
  // tf.ready() would then fail. Importing ringbook must not change a notebook's tfjs.
  const { setWasmPaths } = (await import("./tfjs-backend-wasm.cjs")).default;
  // The binary path is read when the backend first initialises; setting it later is an error.
  if (tf.findBackend("wasm") === null) setWasmPaths(wasmBinaryDirectory());
  let selected: boolean;
  try {
    selected = await tf.setBackend("wasm");
  } catch (error) {
    throw new WasmBackendError(`tf.setBackend("wasm") failed with binaries in ${wasmBinaryDirectory()}`, { cause: error });
  }
  if (!selected) {
    throw new WasmBackendError(`tf.setBackend("wasm") returned false (binaries in ${wasmBinaryDirectory()}); the backend is ${tf.getBackend()}`);
  }
  uninstallNativeKernels();
  registerMissingWasmKernels(options);
}
