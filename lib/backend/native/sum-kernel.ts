/**
 * `Sum` over leading axes, natively: the bias gradient of every dense and convolution layer
 * (tfjs reduces dy over all axes but the channels). wasm's own `Sum` transposes such a tensor
 * first (the reduced axes must be innermost there), a full copy of dy for nothing. Other
 * reductions, and int32, go to the kernel that was registered before.
 */
import tf from "../../tfjs.cjs";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs";

import { WasmKernelError } from "../wasm-kernels/wasm-kernel-scope.js";
import type { BlasAddon } from "./blas-addon.js";
import { wasmHeapOf } from "./wasm-heap.js";

/** The number of leading axes `axis` names, when it names exactly the first few; else undefined. */
export function leadingAxes(axis: unknown, rank: number): number | undefined {
  if (axis === undefined || axis === null) return rank;
  const list = Array.isArray(axis) ? axis : [axis];
  if (!list.every((a): a is number => typeof a === "number" && Number.isInteger(a) && a >= -rank && a < rank)) return undefined;
  const sorted = [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  return sorted.every((a, i) => a === i) && sorted.length > 0 ? sorted.length : undefined;
}

/** The native `Sum` (leading axes of float32 tensors; the rest to `replaced`). */
export function nativeSumConfig(addon: BlasAddon, replaced: KernelFunc | undefined): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs["x"];
    if (x === undefined) throw new WasmKernelError("Sum needs input 'x'");
    const leading = x.dtype === "float32" && x.shape.length > 0 ? leadingAxes(attrs?.["axis"], x.shape.length) : undefined;
    if (leading === undefined) {
      if (replaced === undefined) throw new WasmKernelError(`Sum over axes ${JSON.stringify(attrs?.["axis"])} of a ${x.dtype} tensor has no kernel`);
      return replaced(args);
    }
    const rows = x.shape.slice(0, leading).reduce((a, b) => a * b, 1);
    const kept = x.shape.slice(leading);
    const cols = kept.reduce((a, b) => a * b, 1);
    const outShape = attrs?.["keepDims"] === true ? [...Array<number>(leading).fill(1), ...kept] : kept;
    const heap = wasmHeapOf(backend);
    const out = heap.makeOutput(outShape);
    try {
      addon.sumRows(heap.buffer, heap.byteOffset(x), heap.byteOffset(out), rows, cols);
    } catch (error) {
      heap.dispose(out);
      throw error;
    }
    return out;
  };
  return { kernelName: tf.Sum, backendName: "wasm", kernelFunc };
}
