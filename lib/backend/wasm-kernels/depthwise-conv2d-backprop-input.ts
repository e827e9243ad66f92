import tf from "../../tfjs.cjs";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs";

import { parseConvGradientAttrs, transposedConvPadding } from "./conv-attrs.js";
import { composeWasmKernel, shape4, WasmKernelError } from "./wasm-kernel-scope.js";

/**
 * `DepthwiseConv2dNativeBackpropInput` for the wasm backend, as a transposed depthwise
 * convolution: zeros are interleaved into `dy` for strides > 1, and one stride-1 depthwise
 * convolution (XNNPACK) with the spatially flipped filter reshaped to `[kh, kw, c·m, 1]` gives
 * `[n, h, w, c·m]`; summing over the channel multiplier `m` gives `dx`.
 */
const depthwiseConv2dNativeBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs;
  if (dy === undefined || filter === undefined) {
    throw new WasmKernelError("DepthwiseConv2dNativeBackpropInput needs inputs 'dy' and 'filter'");
  }
  const parsed = parseConvGradientAttrs("DepthwiseConv2dNativeBackpropInput", attrs, "inputShape");
  return composeWasmKernel(backend, (k) => {
    const [kh, kw, channels, multiplier] = shape4(filter);
    const info = tf.backend_util.computeConv2DInfo(
      parsed.shape, [kh, kw, channels, multiplier], parsed.strides, parsed.dilations, parsed.pad,
      parsed.dimRoundingMode, true, "channelsLast",
    );
    const [batch, outH, outW, outChannels] = shape4(dy);
    if (outH !== info.outHeight || outW !== info.outWidth || outChannels !== channels * multiplier) {
      throw new WasmKernelError(
        `DepthwiseConv2dNativeBackpropInput: dy [${dy.shape.join(",")}] does not match input ` +
        `[${parsed.shape.join(",")}] and filter [${filter.shape.join(",")}]`,
      );
    }
    const interleaved = k.interleaveZeros(dy, [info.strideHeight, info.strideWidth]);
    const { x: cropped, padding } = k.cropNegative(interleaved, [
      transposedConvPadding({
        inSize: info.inHeight, outSize: outH, filterSize: kh, stride: info.strideHeight,
        dilation: info.dilationHeight, padBefore: info.padInfo.top,
      }),
      transposedConvPadding({
        inSize: info.inWidth, outSize: outW, filterSize: kw, stride: info.strideWidth,
        dilation: info.dilationWidth, padBefore: info.padInfo.left,
      }),
    ]);
    const flipped = k.reshape(k.reverse(filter, [0, 1]), [kh, kw, channels * multiplier, 1]);
    const perOutputChannel = k.depthwiseConv2d(cropped, flipped, {
      strides: [1, 1],
      dilations: [info.dilationHeight, info.dilationWidth],
      padding,
    });
    const [, h, w] = shape4(perOutputChannel);
    const split = k.reshape(perOutputChannel, [batch, h, w, channels, multiplier]);
    return multiplier === 1 ? k.reshape(split, [batch, h, w, channels]) : k.sum(split, [4]);
  });
};

/** Registration record for {@link depthwiseConv2dNativeBackpropInput}. */
export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: "wasm",
  kernelFunc: depthwiseConv2dNativeBackpropInput,
};
