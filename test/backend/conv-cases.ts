// Convolution cases shared by the kernel tests (wasm's composed kernels, the native ones): a
// seeded spread of shapes, strides, paddings and data formats, with the benchmark CNN's layers.
import * as tf from "@tensorflow/tfjs";

import { seededValues, type InputSpec } from "./kernel-comparison.js";

export type Padding = "same" | "valid" | number | tf.backend_util.ExplicitPadding;

export interface ConvCase {
  batch: number;
  inSize: [number, number];
  inChannels: number;
  /** Output channels for Conv2D*, the channel multiplier for the depthwise kernels. */
  outChannels: number;
  filterSize: [number, number];
  strides: number | [number, number];
  pad: Padding;
  dataFormat: "NHWC" | "NCHW";
  /** Forward convolutions only (tfjs's gradients reject dilations above 1). @default 1 */
  dilations?: number | [number, number];
}

/** A seeded spread of shapes: strides 1–3, same/valid/numeric/explicit padding, odd sizes, batch and channels > 1. */
export function convCases(seed: number, count: number, options: { nchw: boolean }): ConvCase[] {
  const pick = <T>(choices: readonly T[], r: number): T => choices[Math.floor(((r + 1) / 2) * choices.length)] as T;
  const fixed: ConvCase[] = [
    // The benchmark CNN's two layers, batch cut to 4.
    { batch: 4, inSize: [28, 28], inChannels: 1, outChannels: 32, filterSize: [3, 3], strides: 1, pad: "valid", dataFormat: "NHWC" },
    { batch: 4, inSize: [13, 13], inChannels: 32, outChannels: 64, filterSize: [3, 3], strides: 1, pad: "valid", dataFormat: "NHWC" },
    { batch: 2, inSize: [9, 9], inChannels: 3, outChannels: 4, filterSize: [3, 3], strides: 2, pad: "same", dataFormat: "NHWC" },
    { batch: 2, inSize: [8, 7], inChannels: 2, outChannels: 3, filterSize: [5, 5], strides: 3, pad: "same", dataFormat: "NHWC" },
    { batch: 1, inSize: [6, 6], inChannels: 2, outChannels: 2, filterSize: [3, 2], strides: [2, 1], pad: [[0, 0], [2, 0], [0, 3], [0, 0]], dataFormat: "NHWC" },
  ];
  const cases = [...fixed];
  const r = seededValues(seed, count * 9);
  for (let i = 0; i < count; i++) {
    const at = (j: number): number => r[i * 9 + j] ?? 0;
    const dataFormat = options.nchw && at(8) > 0.4 ? "NCHW" : "NHWC";
    const pads: Padding[] = dataFormat === "NCHW" ? ["same", "valid", 1] : ["same", "valid", 1, [[0, 0], [1, 2], [0, 1], [0, 0]]];
    const candidate: ConvCase = {
      batch: pick([1, 2, 3], at(0)),
      inSize: [pick([4, 5, 7, 8, 11], at(1)), pick([4, 6, 7, 9], at(2))],
      inChannels: pick([1, 2, 3, 5], at(3)),
      outChannels: pick([1, 2, 4], at(4)),
      filterSize: pick<[number, number]>([[1, 1], [2, 2], [3, 3], [3, 2], [4, 4]], at(5)),
      strides: pick<number | [number, number]>([1, 1, 2, 2, 3, [1, 2]], at(6)),
      pad: pick(pads, at(7)),
      dataFormat,
    };
    cases.push(candidate);
  }
  return cases;
}

export function describeCase(c: ConvCase): string {
  return `batch ${c.batch}, in ${c.inSize.join("x")}x${c.inChannels}, out ${c.outChannels}, filter ${c.filterSize.join("x")}, ` +
    `strides ${JSON.stringify(c.strides)}, pad ${JSON.stringify(c.pad)}, ${c.dataFormat}` +
    (c.dilations === undefined ? "" : `, dilations ${JSON.stringify(c.dilations)}`);
}

/** Shapes of x, filter and dy for a case, or undefined when the padded input is smaller than the filter. */
export function convShapes(c: ConvCase, depthwise: boolean): { x: number[]; filter: [number, number, number, number]; dy: number[] } | undefined {
  const [h, w] = c.inSize;
  const filter: [number, number, number, number] = [...c.filterSize, c.inChannels, c.outChannels];
  const xNhwc: [number, number, number, number] = [c.batch, h, w, c.inChannels];
  let info: tf.backend_util.Conv2DInfo;
  try {
    info = tf.backend_util.computeConv2DInfo(xNhwc, filter, c.strides, c.dilations ?? 1, c.pad, undefined, depthwise, "channelsLast");
  } catch {
    return undefined;
  }
  if (info.outHeight < 1 || info.outWidth < 1) return undefined;
  const outC = depthwise ? c.inChannels * c.outChannels : c.outChannels;
  const nchw = c.dataFormat === "NCHW";
  return {
    x: nchw ? [c.batch, c.inChannels, h, w] : xNhwc,
    filter,
    dy: nchw ? [c.batch, outC, info.outHeight, info.outWidth] : [c.batch, info.outHeight, info.outWidth, outC],
  };
}

export function floats(seed: number, shape: number[]): InputSpec {
  return { values: seededValues(seed, tf.util.sizeFromShape(shape)), shape, dtype: "float32" };
}

