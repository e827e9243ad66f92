import tf from "../../tfjs.cjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";

import { composeWasmKernel, WasmKernelError } from "./wasm-kernel-scope.js";

/**
 * `BatchMatMul` for the wasm backend that never asks wasm's own kernel to transpose: a transposed
 * operand is transposed explicitly first, then `replaced` (wasm's own kernel) multiplies plainly.
 *
 * In tfjs-backend-wasm 4.22 only the plain case takes XNNPACK's fast path; with `transposeA` or
 * `transposeB` a 128x784 by 784x256 product took 19–35 ms against 1.5–8 ms this way, and every
 * dense layer's backward pass asks for both.
 */
export function createBatchMatMulConfig(replaced: KernelFunc | undefined): KernelConfig {
  if (replaced === undefined) throw new WasmKernelError("the wasm backend has no BatchMatMul kernel to build on");
  const batchMatMul: KernelFunc = (args) => {
    const transposeA = args.attrs?.["transposeA"] === true;
    const transposeB = args.attrs?.["transposeB"] === true;
    const { a, b } = args.inputs;
    if (a === undefined || b === undefined) throw new WasmKernelError("BatchMatMul needs inputs 'a' and 'b'");
    if (!transposeA && !transposeB) return replaced(args);
    return composeWasmKernel(args.backend, (k) => {
      const plain = (x: TensorInfo, transpose: boolean): TensorInfo => {
        if (!transpose) return x;
        const rank = x.shape.length;
        return k.transpose(x, [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2]);
      };
      const product = replaced({ ...args, inputs: { a: plain(a, transposeA), b: plain(b, transposeB) }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
      if (Array.isArray(product)) throw new WasmKernelError(`wasm BatchMatMul returned ${product.length} outputs`);
      return k.adopt(product);
    });
  };
  return { kernelName: tf.BatchMatMul, backendName: "wasm", kernelFunc: batchMatMul };
}
