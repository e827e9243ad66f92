/**
 * Small kernels that training runs on every layer, done without wasm's extra work:
 * - `Add` of a bias: a [..., C] tensor plus a [C] vector (tfjs adds the bias unfused while it
 *   records gradients). wasm's XNNPACK broadcast add took about 6x a plain elementwise pass on
 *   the CNN's first activations; other additions go to the kernel registered before.
 * - `Identity`: the output shares the input's memory (a reference count), as tfjs's cpu backend
 *   does, where wasm copies it. tfjs never writes a tensor's memory in place, and neither does
 *   ringbook (the fused optimizer writes new tensors), so the copy bought nothing; tfjs-layers
 *   saves every tensor a gradient needs through it, in every step. `Cast` to the same dtype
 *   likewise (wasm copied there too; tfjs casts every ReLU input before its gradient).
 * - ReLU's gradient as one pass (`RingbookReluGrad`), where tfjs runs step, cast and multiply:
 *   see relu-gradient.ts for when tfjs's gradient uses it.
 */
import tf from "../../tfjs.cjs";
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

/** The input itself, its reference count raised: what `Identity` and a same-dtype `Cast` return. */
function shared(x: TensorInfo, backend: unknown): TensorInfo {
  const incRef = (backend as { incRef?: unknown }).incRef;
  if (typeof incRef !== "function") throw new WasmKernelError("the wasm backend has no incRef: tfjs-backend-wasm's internals changed");
  incRef.call(backend, x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
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
    return shared(x, args.backend);
  };
  return { kernelName: tf.Identity, backendName: "wasm", kernelFunc };
}

/** `Cast` to the dtype the tensor has: shares its memory (real conversions to `replaced`). */
export function sharingCastConfig(replaced: KernelFunc | undefined): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs;
    if (x === undefined) throw new WasmKernelError("Cast needs input 'x'");
    if (x.dtype === args.attrs?.["dtype"] && x.dtype !== "string" && x.dtype !== "complex64") return shared(x, args.backend);
    if (replaced === undefined) throw new WasmKernelError(`Cast from ${x.dtype} to ${String(args.attrs?.["dtype"])} has no kernel`);
    return replaced(args);
  };
  return { kernelName: tf.Cast, backendName: "wasm", kernelFunc };
}

/** The name of the native ReLU gradient kernel (wasm only). */
export const reluGradKernelName = "RingbookReluGrad";

/** `RingbookReluGrad`: dy · step(x) in one pass, float32. */
export function nativeReluGradConfig(addon: BlasAddon): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend }) => {
    const { dy, x } = inputs;
    if (dy === undefined || x === undefined) throw new WasmKernelError(`${reluGradKernelName} needs inputs 'dy' and 'x'`);
    if (dy.dtype !== "float32" || x.dtype !== "float32" || dy.shape.join() !== x.shape.join()) {
      throw new WasmKernelError(`${reluGradKernelName}: dy [${dy.shape.join(",")}] ${dy.dtype} and x [${x.shape.join(",")}] ${x.dtype} must be float32 of one shape`);
    }
    const heap = wasmHeapOf(backend);
    const out = heap.makeOutput(x.shape);
    try {
      addon.reluGrad(heap.buffer, heap.byteOffset(dy), heap.byteOffset(x), heap.byteOffset(out), tf.util.sizeFromShape(x.shape));
    } catch (error) {
      heap.dispose(out);
      throw error;
    }
    return out;
  };
  return { kernelName: reluGradKernelName, backendName: "wasm", kernelFunc };
}
