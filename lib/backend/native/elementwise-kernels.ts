/**
 * Two small kernels that training runs on every layer, done without wasm's extra work:
 * - `Add` of a bias: a [..., C] tensor plus a [C] vector (tfjs adds the bias unfused while it
 *   records gradients). wasm's XNNPACK broadcast add took about 6x a plain elementwise pass on
 *   the CNN's first activations; other additions go to the kernel registered before.
 * - `Identity`: the output shares the input's memory (a reference count), as tfjs's cpu backend
 *   does, where wasm copies it. tfjs never writes a tensor's memory in place, and neither does
 *   ringbook (the fused optimizer writes new tensors), so the copy bought nothing; tfjs-layers
 *   calls it on every weight and many activations in every step.
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";

import { WasmKernelError } from "../wasm-kernels/wasm-kernel-scope.js";
import type { BlasAddon } from "./blas-addon.js";
import { wasmHeapOf } from "./wasm-heap.js";

/** Whether `row` is a vector over the last dimension of `x` ([C], or [1, ..., 1, C] no longer than x). */
function isRowOf(row: TensorInfo, x: TensorInfo): boolean {
  const c = x.shape.at(-1);
  if (c === undefined || row.shape.length === 0 || row.shape.length > x.shape.length) return false;
  return row.shape.at(-1) === c && row.shape.slice(0, -1).every((d) => d === 1);
}

/** The native bias `Add` (everything else to `replaced`). */
export function nativeAddConfig(addon: BlasAddon, replaced: KernelFunc | undefined): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { a, b } = args.inputs;
    if (a === undefined || b === undefined) throw new WasmKernelError("Add needs inputs 'a' and 'b'");
    const [x, row] = a.dtype !== "float32" || b.dtype !== "float32" ? [undefined, undefined] : isRowOf(b, a) ? [a, b] : isRowOf(a, b) ? [b, a] : [undefined, undefined];
    if (x === undefined || row === undefined || x.shape.length < 2) {
      if (replaced === undefined) throw new WasmKernelError(`Add of [${a.shape.join(",")}] and [${b.shape.join(",")}] has no kernel`);
      return replaced(args);
    }
    const heap = wasmHeapOf(args.backend);
    const cols = x.shape.at(-1)!;
    const rows = tf.util.sizeFromShape(x.shape) / Math.max(cols, 1);
    const out = heap.makeOutput(x.shape);
    try {
      addon.addRows(heap.buffer, heap.byteOffset(x), heap.byteOffset(row), heap.byteOffset(out), rows, cols);
    } catch (error) {
      heap.dispose(out);
      throw error;
    }
    return out;
  };
  return { kernelName: tf.Add, backendName: "wasm", kernelFunc };
}

/** `Identity` sharing the input's memory (string tensors to `replaced`). */
export function sharingIdentityConfig(replaced: KernelFunc | undefined): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs;
    if (x === undefined) throw new WasmKernelError("Identity needs input 'x'");
    if (x.dtype === "string") {
      if (replaced === undefined) throw new WasmKernelError("Identity of a string tensor has no kernel");
      return replaced(args);
    }
    const backend = args.backend as { incRef?: unknown };
    if (typeof backend.incRef !== "function") throw new WasmKernelError("the wasm backend has no incRef: tfjs-backend-wasm's internals changed");
    (backend.incRef as (dataId: object) => void)(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { kernelName: tf.Identity, backendName: "wasm", kernelFunc };
}
