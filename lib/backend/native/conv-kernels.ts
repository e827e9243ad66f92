/**
 * 2-D convolutions for the wasm backend through im2col + OpenBLAS sgemm, zero-copy in the wasm
 * heap: `Conv2D` and `FusedConv2D` forward (any strides, padding including explicit, dilation),
 * both gradients (`Conv2DBackpropInput`, `Conv2DBackpropFilter`), and `MaxPoolGrad`. NHWC, as
 * tfjs's layers use; NCHW goes to the kernel that was registered before (wasm's own, or
 * ringbook's composition).
 */
import tf from "../../tfjs.cjs";
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs";

import { parseConvGradientAttrs } from "../wasm-kernels/conv-attrs.js";
import { composeWasmKernel, shape4, WasmKernelError } from "../wasm-kernels/wasm-kernel-scope.js";
import type { BlasAddon } from "./blas-addon.js";
import { applyEpilogue, parseEpilogue } from "./epilogue.js";
import { wasmHeapOf } from "./wasm-heap.js";

type Conv2DInfo = tf.backend_util.Conv2DInfo;
type Pair = number | [number, number];

/** The 15 numbers of native/src/kernels.h's rb_conv_geometry. */
function geometryOf(info: Conv2DInfo): Int32Array {
  return Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth,
    info.strideHeight, info.strideWidth,
    info.dilationHeight, info.dilationWidth,
    info.padInfo.top, info.padInfo.left,
  ]);
}

function float32(kernelName: string, name: string, info: TensorInfo | undefined): TensorInfo {
  if (info === undefined) throw new WasmKernelError(`${kernelName} needs input '${name}'`);
  if (info.dtype !== "float32") throw new WasmKernelError(`${kernelName}: '${name}' must be float32, got ${info.dtype}`);
  return info;
}

/** The forward convolution's geometry (the gradient kernels' attribute parser, with dilations); undefined for NCHW. */
function forwardInfo(kernelName: string, x: TensorInfo, filter: TensorInfo, attrs: NamedAttrMap | undefined): Conv2DInfo | undefined {
  const parsed = parseConvGradientAttrs(kernelName, { ...attrs, filterShape: [...filter.shape] }, "filterShape");
  if (parsed.dataFormat !== "NHWC") return undefined;
  return tf.backend_util.computeConv2DInfo(shape4(x), parsed.shape, parsed.strides, parsed.dilations as Pair, parsed.pad, parsed.dimRoundingMode, false, "channelsLast");
}

type Fallback = KernelFunc | undefined;

function delegate(kernelName: string, fallback: Fallback, args: Parameters<KernelFunc>[0]): ReturnType<KernelFunc> {
  if (fallback === undefined) throw new WasmKernelError(`${kernelName}: only NHWC is done natively, and no other kernel was registered for this case`);
  return fallback(args);
}

/** The native `Conv2D` (NCHW goes to `fallback`). */
export function nativeConv2DConfig(addon: BlasAddon, fallback: Fallback): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const x = float32("Conv2D", "x", inputs["x"]);
    const filter = float32("Conv2D", "filter", inputs["filter"]);
    const info = forwardInfo("Conv2D", x, filter, attrs);
    if (info === undefined) return delegate("Conv2D", fallback, args);
    const heap = wasmHeapOf(backend);
    const out = heap.makeOutput(info.outShape);
    try {
      addon.conv2d(heap.buffer, heap.byteOffset(x), heap.byteOffset(filter), heap.byteOffset(out), geometryOf(info));
    } catch (error) {
      heap.dispose(out);
      throw error;
    }
    return out;
  };
  return { kernelName: tf.Conv2D, backendName: "wasm", kernelFunc };
}

/** The native `FusedConv2D`: convolution, then bias and activation in place. */
export function nativeFusedConv2DConfig(addon: BlasAddon, fallback: Fallback): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const x = float32("FusedConv2D", "x", inputs["x"]);
    const filter = float32("FusedConv2D", "filter", inputs["filter"]);
    const info = forwardInfo("FusedConv2D", x, filter, attrs);
    if (info === undefined) return delegate("FusedConv2D", fallback, args);
    const spec = parseEpilogue("FusedConv2D", attrs, inputs["bias"], inputs["preluActivationWeights"]);
    const heap = wasmHeapOf(backend);
    return composeWasmKernel(backend, (scope) => {
      const out = scope.adopt(heap.makeOutput(info.outShape));
      addon.conv2d(heap.buffer, heap.byteOffset(x), heap.byteOffset(filter), heap.byteOffset(out), geometryOf(info));
      // [batch, height, width, channels] as [batch, pixels, channels]: a per-channel bias broadcasts simply.
      return applyEpilogue({ addon, heap, scope, out, outShape: info.outShape, groups: [1, 2, 1], spec });
    });
  };
  return { kernelName: tf.FusedConv2D, backendName: "wasm", kernelFunc };
}

/** The native `Conv2DBackpropInput` (the gradient with respect to the input). */
export function nativeConv2DBackpropInputConfig(addon: BlasAddon, fallback: Fallback): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const dy = float32("Conv2DBackpropInput", "dy", inputs["dy"]);
    const filter = float32("Conv2DBackpropInput", "filter", inputs["filter"]);
    const parsed = parseConvGradientAttrs("Conv2DBackpropInput", attrs, "inputShape");
    if (parsed.dataFormat !== "NHWC") return delegate("Conv2DBackpropInput", fallback, args);
    const info = tf.backend_util.computeConv2DInfo(parsed.shape, shape4(filter), parsed.strides, 1, parsed.pad, parsed.dimRoundingMode, false, "channelsLast");
    checkSpatial("Conv2DBackpropInput", dy, info);
    const heap = wasmHeapOf(backend);
    const out = heap.makeOutput(parsed.shape);
    try {
      addon.conv2dBackpropInput(heap.buffer, heap.byteOffset(dy), heap.byteOffset(filter), heap.byteOffset(out), geometryOf(info));
    } catch (error) {
      heap.dispose(out);
      throw error;
    }
    return out;
  };
  return { kernelName: tf.Conv2DBackpropInput, backendName: "wasm", kernelFunc };
}

/** The native `Conv2DBackpropFilter` (the gradient with respect to the filter). */
export function nativeConv2DBackpropFilterConfig(addon: BlasAddon, fallback: Fallback): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const x = float32("Conv2DBackpropFilter", "x", inputs["x"]);
    const dy = float32("Conv2DBackpropFilter", "dy", inputs["dy"]);
    const parsed = parseConvGradientAttrs("Conv2DBackpropFilter", attrs, "filterShape");
    if (parsed.dataFormat !== "NHWC") return delegate("Conv2DBackpropFilter", fallback, args);
    const info = tf.backend_util.computeConv2DInfo(shape4(x), parsed.shape, parsed.strides, 1, parsed.pad, parsed.dimRoundingMode, false, "channelsLast");
    checkSpatial("Conv2DBackpropFilter", dy, info);
    const heap = wasmHeapOf(backend);
    const out = heap.makeOutput(parsed.shape);
    try {
      addon.conv2dBackpropFilter(heap.buffer, heap.byteOffset(x), heap.byteOffset(dy), heap.byteOffset(out), geometryOf(info));
    } catch (error) {
      heap.dispose(out);
      throw error;
    }
    return out;
  };
  return { kernelName: tf.Conv2DBackpropFilter, backendName: "wasm", kernelFunc };
}

/** The native `MaxPoolGrad` (NHWC, as tfjs's pooling ops always are). */
export function nativeMaxPoolGradConfig(addon: BlasAddon): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
    const dy = float32("MaxPoolGrad", "dy", inputs["dy"]);
    const x = float32("MaxPoolGrad", "input", inputs["input"]);
    const filterSize = attrs?.["filterSize"] as Pair | undefined;
    const strides = attrs?.["strides"] as Pair | undefined;
    if (filterSize === undefined || strides === undefined) throw new WasmKernelError("MaxPoolGrad needs filterSize and strides");
    const pad = attrs?.["pad"] as Parameters<typeof tf.backend_util.computePool2DInfo>[4];
    const rounding = attrs?.["dimRoundingMode"] as "floor" | "round" | "ceil" | undefined;
    const info = tf.backend_util.computePool2DInfo(shape4(x), filterSize, strides, 1, pad, rounding);
    checkSpatial("MaxPoolGrad", dy, info);
    const heap = wasmHeapOf(backend);
    const out = heap.makeOutput(x.shape);
    try {
      addon.maxPoolGrad(heap.buffer, heap.byteOffset(dy), heap.byteOffset(x), heap.byteOffset(out), geometryOf(info));
    } catch (error) {
      heap.dispose(out);
      throw error;
    }
    return out;
  };
  return { kernelName: tf.MaxPoolGrad, backendName: "wasm", kernelFunc };
}

function checkSpatial(kernelName: string, dy: TensorInfo, info: Conv2DInfo): void {
  const expected = info.outShape.join(",");
  if (dy.shape.join(",") !== expected) {
    throw new WasmKernelError(`${kernelName}: dy has shape [${dy.shape.join(",")}], the convolution's output is [${expected}]`);
  }
}
