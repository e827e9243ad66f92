import tf from "../../tfjs.cjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";

import { parseConvGradientAttrs, transposedConvPadding } from "./conv-attrs.js";
import { composeWasmKernel, shape4, WasmKernelError } from "./wasm-kernel-scope.js";

/**
 * `Conv2DBackpropInput` (also `conv2dTranspose`) for the wasm backend, as one forward convolution
 * (XNNPACK): zeros are interleaved into `dy` for strides > 1, then a stride-1 convolution with
 * the filter flipped spatially and its channel axes swapped (`[kh, kw, co, ci]`), with the
 * padding from {@link transposedConvPadding}.
 *
 * tfjs-backend-wasm 4.22 has its own kernel for this, but it is a direct loop about 5–10x slower
 * than this composition on the second layer of a small CNN; this one replaces it only on request.
 */
const conv2DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs;
  if (dy === undefined || filter === undefined) throw new WasmKernelError("Conv2DBackpropInput needs inputs 'dy' and 'filter'");
  const parsed = parseConvGradientAttrs("Conv2DBackpropInput", attrs, "inputShape");
  const channelsFirst = parsed.dataFormat === "NCHW";
  const [n, inC, inH, inW] = parsed.shape;
  const inputShapeNhwc: [number, number, number, number] = channelsFirst ? [n, inH, inW, inC] : parsed.shape;
  return composeWasmKernel(backend, (k) => {
    const dyNhwc: TensorInfo = channelsFirst ? k.transpose(dy, [0, 2, 3, 1]) : dy;
    const [kh, kw, ci, co] = shape4(filter);
    const info = tf.backend_util.computeConv2DInfo(
      inputShapeNhwc, [kh, kw, ci, co], parsed.strides, 1, parsed.pad, parsed.dimRoundingMode, false, "channelsLast",
    );
    const [, outH, outW, outC] = shape4(dyNhwc);
    if (outH !== info.outHeight || outW !== info.outWidth || outC !== co) {
      throw new WasmKernelError(
        `Conv2DBackpropInput: dy [${dy.shape.join(",")}] does not match input [${parsed.shape.join(",")}] ` +
        `and filter [${filter.shape.join(",")}]`,
      );
    }
    const interleaved = k.interleaveZeros(dyNhwc, [info.strideHeight, info.strideWidth]);
    const { x: cropped, padding } = k.cropNegative(interleaved, [
      transposedConvPadding({
        inSize: info.inHeight, outSize: outH, filterSize: kh, stride: info.strideHeight, dilation: 1,
        padBefore: info.padInfo.top,
      }),
      transposedConvPadding({
        inSize: info.inWidth, outSize: outW, filterSize: kw, stride: info.strideWidth, dilation: 1,
        padBefore: info.padInfo.left,
      }),
    ]);
    const flipped = k.transpose(k.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    const dx = k.conv2d(cropped, flipped, { strides: [1, 1], dilations: [1, 1], padding });
    return channelsFirst ? k.transpose(dx, [0, 3, 1, 2]) : dx;
  });
};

/** Registration record for {@link conv2DBackpropInput}. */
export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: "wasm",
  kernelFunc: conv2DBackpropInput,
};
