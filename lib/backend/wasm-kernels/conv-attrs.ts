import type { NamedAttrMap, backend_util } from "@tensorflow/tfjs";

import { WasmKernelError } from "./wasm-kernel-scope.js";

type Shape4 = [number, number, number, number];
type Pair = number | [number, number];
type Padding = "same" | "valid" | number | backend_util.ExplicitPadding;
type RoundingMode = "floor" | "round" | "ceil" | undefined;

/** The attributes shared by the 2-D convolution gradient kernels, checked at runtime. */
export interface ConvGradientAttrs {
  strides: Pair;
  dilations: Pair;
  pad: Padding;
  dimRoundingMode: RoundingMode;
  /** Only Conv2DBackprop* carry a data format; the depthwise ones are always NHWC. */
  dataFormat: "NHWC" | "NCHW";
}

/**
 * Reads the convolution attributes that tfjs passes to a gradient kernel. `shapeAttr` names the
 * extra shape attribute (`filterShape` or `inputShape`), returned as `shape`.
 */
export function parseConvGradientAttrs(
  kernelName: string,
  attrs: NamedAttrMap | undefined = {},
  shapeAttr: "filterShape" | "inputShape",
): ConvGradientAttrs & { shape: Shape4 } {
  const fail = (name: string, value: unknown): never => {
    throw new WasmKernelError(`${kernelName}: attribute '${name}' has unsupported value ${JSON.stringify(value)}`);
  };
  const pair = (name: string, value: unknown, fallback: number | undefined): Pair => {
    if (value === undefined && fallback !== undefined) return fallback;
    if (isPositiveInt(value)) return value;
    const numbers = positiveInts(value, 2);
    return numbers ? [numbers[0], numbers[1]] : fail(name, value);
  };
  const shapeValue: unknown = attrs[shapeAttr];
  const shape = positiveInts(shapeValue, 4) ?? fail(shapeAttr, shapeValue);
  const dataFormat: unknown = attrs["dataFormat"] ?? "NHWC";
  if (dataFormat !== "NHWC" && dataFormat !== "NCHW") return fail("dataFormat", dataFormat);
  const rounding: unknown = attrs["dimRoundingMode"] ?? undefined;
  if (rounding !== undefined && rounding !== "floor" && rounding !== "round" && rounding !== "ceil") {
    return fail("dimRoundingMode", rounding);
  }
  return {
    strides: pair("strides", attrs["strides"], undefined),
    dilations: pair("dilations", attrs["dilations"], 1),
    pad: parsePadding(attrs["pad"]) ?? fail("pad", attrs["pad"]),
    dimRoundingMode: rounding,
    dataFormat,
    shape,
  };
}

function parsePadding(value: unknown): Padding | undefined {
  if (value === "same" || value === "valid") return value;
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  if (!Array.isArray(value) || value.length !== 4) return undefined;
  const rows: [number, number][] = [];
  for (const row of value) {
    if (!Array.isArray(row) || row.length !== 2) return undefined;
    const [before, after]: unknown[] = row;
    if (!isNonNegativeInt(before) || !isNonNegativeInt(after)) return undefined;
    rows.push([before, after]);
  }
  const [a, b, c, d] = rows;
  return a && b && c && d ? [a, b, c, d] : undefined;
}

/** `value` as exactly `length` positive integers, or undefined. */
function positiveInts<N extends 2 | 4>(value: unknown, length: N): (N extends 2 ? [number, number] : Shape4) | undefined;
function positiveInts(value: unknown, length: number): number[] | undefined {
  if (!Array.isArray(value) || value.length !== length) return undefined;
  const numbers: number[] = [];
  for (const item of value) {
    if (!isPositiveInt(item)) return undefined;
    numbers.push(item);
  }
  return numbers;
}

function isPositiveInt(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value > 0;
}

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

/**
 * For one spatial dimension of a transposed convolution computed as a stride-1 convolution of the
 * zero-interleaved gradient with the flipped filter: the signed padding (negative = crop) to put
 * around the interleaved gradient, whose length is `outSize * stride`, so that the result has
 * `inSize` elements.
 *
 * Forward: `y[i] = Σ_k x[i·s + k·d − padBefore] f[k]`, so
 * `dx[h] = Σ_k dyInterleaved[h + padBefore − k·d] f[k]`, a correlation with the flipped filter
 * over the gradient padded by `(k − 1)·d − padBefore` in front.
 */
export function transposedConvPadding(geometry: {
  inSize: number;
  outSize: number;
  filterSize: number;
  stride: number;
  dilation: number;
  padBefore: number;
}): [number, number] {
  const { inSize, outSize, filterSize, stride, dilation, padBefore } = geometry;
  const effectiveFilter = (filterSize - 1) * dilation + 1;
  const before = effectiveFilter - 1 - padBefore;
  const after = inSize + effectiveFilter - 1 - outSize * stride - before;
  return [before, after];
}
