/**
 * `BatchMatMul` and `_FusedMatMul` for the wasm backend through OpenBLAS's sgemm, zero-copy: the
 * addon multiplies the operands where they lie in the wasm heap into an output made there.
 * Every transpose, any batch dimensions with full broadcasting, and the fused bias and
 * activations (whose gradients tfjs composes from `BatchMatMul` with transposes, `Sum` and
 * elementwise kernels, so they come here too). Never routed to wasm's own `_FusedMatMul`, which
 * gives wrong results with a transpose plus bias or relu in 4.22.
 */
import tf from "../../tfjs.cjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";

import { composeWasmKernel, WasmKernelError } from "../wasm-kernels/wasm-kernel-scope.js";
import type { BlasAddon } from "./blas-addon.js";
import { applyEpilogue, parseEpilogue } from "./epilogue.js";
import { wasmHeapOf, type WasmHeap } from "./wasm-heap.js";

/** The shapes of one (batched, broadcast) matrix product. */
interface MatMulPlan {
  m: number;
  n: number;
  k: number;
  outShape: number[];
  /** Per output matrix: the index of the `a` and `b` matrices it multiplies. */
  pairs: Array<[number, number]>;
}

/** The plan of a single product (both operands of rank 2): the common case, built once. */
const singlePair: Array<[number, number]> = [[0, 0]];

/** Plans `op(a) · op(b)` as tfjs's matMul defines it: batch dimensions broadcast like `add`. */
export function planMatMul(kernelName: string, aShape: readonly number[], bShape: readonly number[], transposeA: boolean, transposeB: boolean): MatMulPlan {
  if (aShape.length < 2 || bShape.length < 2) {
    throw new WasmKernelError(`${kernelName}: operands must have rank ≥ 2, got [${aShape.join(",")}] and [${bShape.join(",")}]`);
  }
  const last = (shape: readonly number[], back: number): number => shape[shape.length - back]!;
  const m = transposeA ? last(aShape, 1) : last(aShape, 2);
  const k = transposeA ? last(aShape, 2) : last(aShape, 1);
  const kB = transposeB ? last(bShape, 1) : last(bShape, 2);
  const n = transposeB ? last(bShape, 2) : last(bShape, 1);
  if (k !== kB) {
    throw new WasmKernelError(
      `${kernelName}: inner shapes (${k}) and (${kB}) of [${aShape.join(",")}] and [${bShape.join(",")}] with transposeA=${transposeA}, transposeB=${transposeB} must match`,
    );
  }
  if (aShape.length === 2 && bShape.length === 2) return { m, n, k, outShape: [m, n], pairs: singlePair };
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const outBatch = tf.backend_util.assertAndGetBroadcastShape(aBatch, bBatch);
  const count = outBatch.reduce((x, y) => x * y, 1);
  const stridesOf = (batch: readonly number[]): number[] => {
    const padded = [...Array<number>(outBatch.length - batch.length).fill(1), ...batch];
    const strides = Array<number>(outBatch.length).fill(0);
    let stride = 1;
    for (let d = outBatch.length - 1; d >= 0; d--) {
      strides[d] = padded[d] === 1 ? 0 : stride;
      stride *= padded[d]!;
    }
    return strides;
  };
  const aStrides = stridesOf(aBatch);
  const bStrides = stridesOf(bBatch);
  const pairs: Array<[number, number]> = [];
  for (let index = 0; index < count; index++) {
    let rest = index;
    let aIndex = 0;
    let bIndex = 0;
    for (let d = outBatch.length - 1; d >= 0; d--) {
      const position = rest % outBatch[d]!;
      rest = Math.floor(rest / outBatch[d]!);
      aIndex += position * aStrides[d]!;
      bIndex += position * bStrides[d]!;
    }
    pairs.push([aIndex, bIndex]);
  }
  return { m, n, k, outShape: [...outBatch, m, n], pairs };
}

/** Runs a planned product into `out` (already in the heap). */
function multiply(addon: BlasAddon, heap: WasmHeap, plan: MatMulPlan, a: TensorInfo, b: TensorInfo, out: TensorInfo, transposeA: boolean, transposeB: boolean): void {
  const { m, n, k, pairs } = plan;
  const offsets = new Float64Array(pairs.length * 3);
  const [aBase, bBase, outBase] = [heap.byteOffset(a), heap.byteOffset(b), heap.byteOffset(out)];
  pairs.forEach(([aIndex, bIndex], i) => {
    offsets[3 * i] = aBase + aIndex * m * k * 4;
    offsets[3 * i + 1] = bBase + bIndex * k * n * 4;
    offsets[3 * i + 2] = outBase + i * m * n * 4;
  });
  addon.matmul(heap.buffer, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0, offsets);
}

function float32Operands(kernelName: string, a: TensorInfo | undefined, b: TensorInfo | undefined): [TensorInfo, TensorInfo] {
  if (a === undefined || b === undefined) throw new WasmKernelError(`${kernelName} needs inputs 'a' and 'b'`);
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new WasmKernelError(`${kernelName} multiplies float32 tensors, got ${a.dtype} and ${b.dtype}`);
  }
  return [a, b];
}

/** The native `BatchMatMul`. */
export function nativeBatchMatMulConfig(addon: BlasAddon): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
    const [a, b] = float32Operands("BatchMatMul", inputs["a"], inputs["b"]);
    const transposeA = attrs?.["transposeA"] === true;
    const transposeB = attrs?.["transposeB"] === true;
    const heap = wasmHeapOf(backend);
    const plan = planMatMul("BatchMatMul", a.shape, b.shape, transposeA, transposeB);
    const out = heap.makeOutput(plan.outShape);
    try {
      multiply(addon, heap, plan, a, b, out, transposeA, transposeB);
    } catch (error) {
      heap.dispose(out);
      throw error;
    }
    return out;
  };
  return { kernelName: tf.BatchMatMul, backendName: "wasm", kernelFunc };
}

/** The native `_FusedMatMul`: the product, then bias and activation in place. */
export function nativeFusedMatMulConfig(addon: BlasAddon): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
    const [a, b] = float32Operands("_FusedMatMul", inputs["a"], inputs["b"]);
    const transposeA = attrs?.["transposeA"] === true;
    const transposeB = attrs?.["transposeB"] === true;
    const spec = parseEpilogue("_FusedMatMul", attrs, inputs["bias"], inputs["preluActivationWeights"]);
    const heap = wasmHeapOf(backend);
    const plan = planMatMul("_FusedMatMul", a.shape, b.shape, transposeA, transposeB);
    return composeWasmKernel(backend, (scope) => {
      const out = scope.adopt(heap.makeOutput(plan.outShape));
      multiply(addon, heap, plan, a, b, out, transposeA, transposeB);
      return applyEpilogue({ addon, heap, scope, out, outShape: plan.outShape, groups: [plan.outShape.length - 2, 1, 1], spec });
    });
  };
  return { kernelName: tf._FusedMatMul, backendName: "wasm", kernelFunc };
}
