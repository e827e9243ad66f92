import tf from "../../tfjs.cjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";

import { parseConvGradientAttrs } from "./conv-attrs.js";
import { composeWasmKernel, shape4, WasmKernelError } from "./wasm-kernel-scope.js";

/**
 * `Conv2DBackpropFilter` for the wasm backend, as one forward convolution (XNNPACK) with the batch
 * as the reduction channel:
 *
 * `dW[a,b,ci,co] = Σ_{n,i,j} x[n, i·sh + a − top, j·sw + b − left, ci] · dy[n,i,j,co]`
 *
 * is `conv2d(input = x as [ci, h, w, n], filter = dy as [ho, wo, n, co])` with stride 1,
 * dilation = the forward stride and the forward's top/left padding; its output `[ci, kh, kw, co]`
 * is transposed to the filter layout. Bottom/right padding is chosen so the output is exactly
 * `kh × kw` (negative amounts crop input rows the forward never read).
 */
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs;
  if (x === undefined || dy === undefined) throw new WasmKernelError("Conv2DBackpropFilter needs inputs 'x' and 'dy'");
  const parsed = parseConvGradientAttrs("Conv2DBackpropFilter", attrs, "filterShape");
  return composeWasmKernel(backend, (k) => {
    const toNhwc = (t: TensorInfo): TensorInfo => (parsed.dataFormat === "NCHW" ? k.transpose(t, [0, 2, 3, 1]) : t);
    const xNhwc = toNhwc(x);
    const dyNhwc = toNhwc(dy);
    const info = tf.backend_util.computeConv2DInfo(
      shape4(xNhwc), parsed.shape, parsed.strides, 1, parsed.pad, parsed.dimRoundingMode, false, "channelsLast",
    );
    const [, outH, outW] = shape4(dyNhwc);
    if (outH !== info.outHeight || outW !== info.outWidth) {
      throw new WasmKernelError(
        `Conv2DBackpropFilter: dy has spatial size ${outH}x${outW}, but x [${xNhwc.shape.join(",")}] with filter ` +
        `[${parsed.shape.join(",")}] gives ${info.outHeight}x${info.outWidth}`,
      );
    }
    const [kh, kw, ci, co] = parsed.shape;
    // Padded rows the forward read: (outH − 1)·stride + kh; bottom padding makes up the rest.
    const bottom = (outH - 1) * info.strideHeight + kh - info.padInfo.top - info.inHeight;
    const right = (outW - 1) * info.strideWidth + kw - info.padInfo.left - info.inWidth;
    const { x: cropped, padding } = k.cropNegative(xNhwc, [[info.padInfo.top, bottom], [info.padInfo.left, right]]);
    const [, croppedH, croppedW] = shape4(cropped);
    if (croppedH === 0 || croppedW === 0) return k.fill(parsed.shape, 0, "float32"); // only padding was read
    const xChannelsAsBatch = k.transpose(cropped, [3, 1, 2, 0]);
    const dyAsFilter = k.transpose(dyNhwc, [1, 2, 0, 3]);
    const grad = k.conv2d(xChannelsAsBatch, dyAsFilter, {
      strides: [1, 1],
      dilations: [info.strideHeight, info.strideWidth],
      padding,
    });
    const [gradCi, gradKh, gradKw, gradCo] = shape4(grad);
    if (gradCi !== ci || gradKh !== kh || gradKw !== kw || gradCo !== co) {
      throw new WasmKernelError(`Conv2DBackpropFilter: composed result [${grad.shape.join(",")}] does not match filter [${parsed.shape.join(",")}]`);
    }
    return k.transpose(grad, [1, 2, 0, 3]);
  });
};

/** Registration record for {@link conv2DBackpropFilter}. */
export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: conv2DBackpropFilter,
};
