import tf from "../../tfjs.cjs";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs";

import { parseConvGradientAttrs } from "./conv-attrs.js";
import { composeWasmKernel, shape4, WasmKernelError } from "./wasm-kernel-scope.js";

/**
 * `DepthwiseConv2dNativeBackpropFilter` for the wasm backend, as one depthwise convolution
 * (XNNPACK) over a single image whose channels are (input channel, batch) pairs:
 *
 * `dW[a,b,c,q] = Σ_n Σ_{i,j} x[n, i·sh + a·dh − top, j·sw + b·dw − left, c] · dy[n,i,j,c·m+q]`
 *
 * The inner double sum is a depthwise convolution of `x` as `[1, h, w, c·n]` with `dy` as the
 * filter `[ho, wo, c·n, m]`, stride = the forward dilation and dilation = the forward stride;
 * its `[1, kh, kw, c·n·m]` output is summed over `n`.
 */
const depthwiseConv2dNativeBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs;
  if (x === undefined || dy === undefined) {
    throw new WasmKernelError("DepthwiseConv2dNativeBackpropFilter needs inputs 'x' and 'dy'");
  }
  const parsed = parseConvGradientAttrs("DepthwiseConv2dNativeBackpropFilter", attrs, "filterShape");
  return composeWasmKernel(backend, (k) => {
    const [kh, kw, channels, multiplier] = parsed.shape;
    const info = tf.backend_util.computeConv2DInfo(
      shape4(x), parsed.shape, parsed.strides, parsed.dilations, parsed.pad, parsed.dimRoundingMode, true, "channelsLast",
    );
    const [batch, outH, outW, outChannels] = shape4(dy);
    if (outH !== info.outHeight || outW !== info.outWidth || outChannels !== channels * multiplier) {
      throw new WasmKernelError(
        `DepthwiseConv2dNativeBackpropFilter: dy [${dy.shape.join(",")}] does not match x ` +
        `[${x.shape.join(",")}] and filter [${parsed.shape.join(",")}]`,
      );
    }
    const bottom = (kh - 1) * info.dilationHeight + (outH - 1) * info.strideHeight + 1 - info.padInfo.top - info.inHeight;
    const right = (kw - 1) * info.dilationWidth + (outW - 1) * info.strideWidth + 1 - info.padInfo.left - info.inWidth;
    const { x: cropped, padding } = k.cropNegative(x, [[info.padInfo.top, bottom], [info.padInfo.left, right]]);
    const [, croppedH, croppedW] = shape4(cropped);
    if (croppedH === 0 || croppedW === 0) return k.fill(parsed.shape, 0, "float32"); // only padding was read
    const image = k.reshape(k.transpose(cropped, [1, 2, 3, 0]), [1, croppedH, croppedW, channels * batch]);
    const dySplit = k.reshape(dy, [batch, outH, outW, channels, multiplier]);
    const dyAsFilter = k.reshape(k.transpose(dySplit, [1, 2, 3, 0, 4]), [outH, outW, channels * batch, multiplier]);
    const perImage = k.depthwiseConv2d(image, dyAsFilter, {
      strides: [info.dilationHeight, info.dilationWidth],
      dilations: [info.strideHeight, info.strideWidth],
      padding,
    });
    const [, gradKh, gradKw] = shape4(perImage);
    if (gradKh !== kh || gradKw !== kw) {
      throw new WasmKernelError(`DepthwiseConv2dNativeBackpropFilter: composed result [${perImage.shape.join(",")}] does not match filter [${parsed.shape.join(",")}]`);
    }
    const split = k.reshape(perImage, [kh, kw, channels, batch, multiplier]);
    return batch === 1 ? k.reshape(split, parsed.shape) : k.sum(split, [3]);
  });
};

/** Registration record for {@link depthwiseConv2dNativeBackpropFilter}. */
export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: "wasm",
  kernelFunc: depthwiseConv2dNativeBackpropFilter,
};
