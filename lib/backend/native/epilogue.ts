/**
 * The epilogue of tfjs's fused kernels (`_FusedMatMul`, `FusedConv2D`): `activation(out + bias)`,
 * done natively in place when the bias and PReLU weights broadcast simply over the output, or by
 * the wasm backend's own kernels otherwise (the result is the same; only rare shapes go there).
 */
import type { NamedAttrMap, TensorInfo } from "@tensorflow/tfjs";

import { WasmKernelError, type WasmKernelScope } from "../wasm-kernels/wasm-kernel-scope.js";
import type { BlasAddon } from "./blas-addon.js";
import type { WasmHeap } from "./wasm-heap.js";

/** tfjs's fusable activations and their codes in native/src/kernels.h. */
const activationCodes = { linear: 0, relu: 1, relu6: 2, elu: 3, leakyrelu: 4, prelu: 5, sigmoid: 6 } as const;
export type FusedActivation = keyof typeof activationCodes;

/** The fused kernels' epilogue attributes, checked. */
export interface EpilogueSpec {
  activation: FusedActivation;
  leakyreluAlpha: number;
  bias: TensorInfo | undefined;
  preluWeights: TensorInfo | undefined;
}

/** Reads `activation` and `leakyreluAlpha` (tfjs's default 0.2) from a fused kernel's attributes. */
export function parseEpilogue(kernelName: string, attrs: NamedAttrMap | undefined, bias: TensorInfo | undefined, preluWeights: TensorInfo | undefined): EpilogueSpec {
  const activation: unknown = attrs?.["activation"] ?? "linear";
  if (typeof activation !== "string" || !(activation in activationCodes)) {
    throw new WasmKernelError(`${kernelName}: unsupported activation ${JSON.stringify(activation)}; expected one of ${Object.keys(activationCodes).join(", ")}`);
  }
  const alpha: unknown = attrs?.["leakyreluAlpha"] ?? 0.2;
  if (typeof alpha !== "number") throw new WasmKernelError(`${kernelName}: leakyreluAlpha must be a number, got ${JSON.stringify(alpha)}`);
  if (activation === "prelu" && preluWeights === undefined) throw new WasmKernelError(`${kernelName}: prelu activation without preluActivationWeights`);
  for (const [name, operand] of [["bias", bias], ["preluActivationWeights", preluWeights]] as const) {
    if (operand !== undefined && operand.dtype !== "float32") throw new WasmKernelError(`${kernelName}: ${name} must be float32, got ${operand.dtype}`);
  }
  return { activation: activation as FusedActivation, leakyreluAlpha: alpha, bias, preluWeights };
}

/**
 * How an operand broadcasts over an output seen as three groups of dimensions [outer, rows,
 * cols] (`groups` counts the output dimensions in each): one stride per group, 0 where the
 * operand is broadcast. `undefined` when a group mixes broadcast and full dimensions.
 */
export function groupStrides(operandShape: readonly number[], outShape: readonly number[], groups: readonly [number, number, number]): [number, number, number] | undefined {
  const rank = outShape.length;
  if (operandShape.length > rank || groups[0] + groups[1] + groups[2] !== rank) return undefined;
  const padded = [...Array<number>(rank - operandShape.length).fill(1), ...operandShape];
  const strides: number[] = [];
  let end = rank;
  let elementsAfter = 1;
  for (let group = 2; group >= 0; group--) {
    const start = end - groups[group]!;
    let broadcast = true;
    let full = true;
    let size = 1;
    for (let d = start; d < end; d++) {
      const dim = padded[d]!;
      const out = outShape[d]!;
      size *= dim;
      if (out === 1) continue;
      if (dim !== 1) broadcast = false;
      if (dim !== out) full = false;
    }
    if (broadcast) strides.unshift(0);
    else if (full) strides.unshift(elementsAfter);
    else return undefined;
    elementsAfter *= size;
    end = start;
  }
  return [strides[0]!, strides[1]!, strides[2]!];
}

/**
 * Applies the epilogue to `out` (made in the heap, shape `outShape`, owned by `scope`) in place,
 * or through the wasm backend's kernels in `scope` (then the result is a new tensor the scope
 * owns). Returns the tensor holding the result.
 */
export function applyEpilogue(args: {
  addon: BlasAddon;
  heap: WasmHeap;
  scope: WasmKernelScope;
  out: TensorInfo;
  outShape: readonly number[];
  groups: readonly [number, number, number];
  spec: EpilogueSpec;
}): TensorInfo {
  const { addon, heap, scope, out, outShape, groups, spec } = args;
  if (spec.bias === undefined && spec.activation === "linear") return out;
  const biasStrides = spec.bias === undefined ? undefined : groupStrides(spec.bias.shape, outShape, groups);
  const preluStrides = spec.preluWeights === undefined ? undefined : groupStrides(spec.preluWeights.shape, outShape, groups);
  if ((spec.bias !== undefined && biasStrides === undefined) || (spec.preluWeights !== undefined && spec.activation === "prelu" && preluStrides === undefined)) {
    return composedEpilogue(scope, out, spec);
  }
  const size = (shape: readonly number[], from: number, to: number): number => shape.slice(from, to).reduce((a, b) => a * b, 1);
  const outer = size(outShape, 0, groups[0]);
  const rows = size(outShape, groups[0], groups[0] + groups[1]);
  const cols = size(outShape, groups[0] + groups[1], outShape.length);
  const operand = (info: TensorInfo | undefined, strides: [number, number, number] | undefined): number[] =>
    info === undefined || strides === undefined ? [-1, 0, 0, 0, 1] : [heap.byteOffset(info), ...strides, size(info.shape, 0, info.shape.length)];
  const descriptor = Float64Array.from([
    heap.byteOffset(out), outer, rows, cols, activationCodes[spec.activation], spec.leakyreluAlpha,
    ...operand(spec.bias, biasStrides),
    ...operand(spec.activation === "prelu" ? spec.preluWeights : undefined, preluStrides),
  ]);
  addon.epilogue(heap.buffer, descriptor);
  return out;
}

/** The epilogue by the wasm backend's kernels (any broadcast), as tfjs's cpu backend composes it. */
function composedEpilogue(scope: WasmKernelScope, out: TensorInfo, spec: EpilogueSpec): TensorInfo {
  let current = out;
  if (spec.bias !== undefined) current = scope.run("Add", { a: current, b: spec.bias });
  switch (spec.activation) {
    case "linear":
      return current;
    case "relu":
      return scope.run("Relu", { x: current });
    case "relu6":
      return scope.run("Relu6", { x: current });
    case "elu":
      return scope.run("Elu", { x: current });
    case "sigmoid":
      return scope.run("Sigmoid", { x: current });
    case "leakyrelu":
      return scope.run("LeakyRelu", { x: current }, { alpha: spec.leakyreluAlpha });
    case "prelu":
      return scope.run("Prelu", { x: current, alpha: spec.preluWeights! });
    default: {
      const impossible: never = spec.activation;
      throw new WasmKernelError(`unknown activation ${String(impossible)}`);
    }
  }
}
