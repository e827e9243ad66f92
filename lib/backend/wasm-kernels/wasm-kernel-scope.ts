import tf from "../../tfjs.cjs";
import type { KernelBackend, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from "@tensorflow/tfjs";

import { RingbookError } from "../../errors.js";

/** Raised when a composed wasm kernel cannot run (a building block missing, bad attributes). */
export class WasmKernelError extends RingbookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("WASM_KERNEL", message, options);
  }
}

/** Explicit padding for the two spatial dimensions: `[[top, bottom], [left, right]]`. */
export type SpatialPadding = readonly [readonly [number, number], readonly [number, number]];

/**
 * Runs the wasm backend's own kernels from inside a composed kernel and owns every intermediate
 * it makes: {@link WasmKernelScope.release} frees all of them except the result.
 *
 * Calling the registered `kernelFunc`s directly (as tfjs-backend-wasm's kernels call each other)
 * keeps the work off the engine: nothing lands on a gradient tape and no engine tensors are made,
 * so the only bookkeeping is the backend's reference counts, which this scope settles.
 */
export class WasmKernelScope {
  readonly #backend: KernelBackend;
  readonly #made: TensorInfo[] = [];

  constructor(backend: KernelBackend) {
    this.#backend = backend;
  }

  /** Runs one single-output wasm kernel; its output is owned by this scope. */
  run(kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = tf.getKernel(kernelName, "wasm");
    if (kernel === undefined) {
      throw new WasmKernelError(`wasm kernel '${kernelName}' is not registered, but a composed kernel needs it`);
    }
    const output = kernel.kernelFunc({ inputs, attrs, backend: this.#backend });
    if (Array.isArray(output)) {
      for (const info of output) this.#backend.disposeData(info.dataId);
      throw new WasmKernelError(`wasm kernel '${kernelName}' returned ${output.length} outputs where one was expected`);
    }
    this.#made.push(output);
    return output;
  }

  /** Takes ownership of a tensor a kernel function called outside {@link run} returned. */
  adopt(info: TensorInfo): TensorInfo {
    this.#made.push(info);
    return info;
  }

  /** Frees every intermediate but `result` (which must come from this scope) and returns it. */
  release(result: TensorInfo): TensorInfo {
    if (!this.#made.includes(result)) {
      throw new WasmKernelError(`a composed kernel returned a tensor of shape [${result.shape.join(",")}] that its scope did not make`);
    }
    for (const info of this.#made) if (info !== result) this.#backend.disposeData(info.dataId);
    this.#made.length = 0;
    return result;
  }

  /** Frees every intermediate (after a failure). Idempotent. */
  disposeAll(): void {
    for (const info of this.#made) this.#backend.disposeData(info.dataId);
    this.#made.length = 0;
  }

  reshape(x: TensorInfo, shape: readonly number[]): TensorInfo {
    return this.run("Reshape", { x }, { shape: [...shape] });
  }

  transpose(x: TensorInfo, perm: readonly number[]): TensorInfo {
    return this.run("Transpose", { x }, { perm: [...perm] });
  }

  /** Zero padding, or the identity (a reshape, so still owned here) when there is none. */
  pad(x: TensorInfo, paddings: ReadonlyArray<readonly [number, number]>): TensorInfo {
    if (paddings.every(([before, after]) => before === 0 && after === 0)) return this.reshape(x, x.shape);
    return this.run("PadV2", { x }, { paddings: paddings.map(([b, a]) => [b, a]), constantValue: 0 });
  }

  slice(x: TensorInfo, begin: readonly number[], size: readonly number[]): TensorInfo {
    return this.run("Slice", { x }, { begin: [...begin], size: [...size] });
  }

  reverse(x: TensorInfo, dims: readonly number[]): TensorInfo {
    return this.run("Reverse", { x }, { dims: [...dims] });
  }

  sum(x: TensorInfo, axis: readonly number[]): TensorInfo {
    return this.run("Sum", { x }, { axis: [...axis], keepDims: false });
  }

  fill(shape: readonly number[], value: number, dtype: tf.DataType): TensorInfo {
    return this.run("Fill", {}, { shape: [...shape], value, dtype });
  }

  /** NHWC convolution with explicit non-negative padding. */
  conv2d(
    x: TensorInfo,
    filter: TensorInfo,
    options: { strides: [number, number]; dilations: [number, number]; padding: SpatialPadding },
  ): TensorInfo {
    return this.run("Conv2D", { x, filter }, {
      strides: options.strides,
      dilations: options.dilations,
      pad: explicitPadding(options.padding),
      dataFormat: "NHWC",
    });
  }

  /** NHWC depthwise convolution with explicit non-negative padding. */
  depthwiseConv2d(
    x: TensorInfo,
    filter: TensorInfo,
    options: { strides: [number, number]; dilations: [number, number]; padding: SpatialPadding },
  ): TensorInfo {
    return this.run("DepthwiseConv2dNative", { x, filter }, {
      strides: options.strides,
      dilations: options.dilations,
      pad: explicitPadding(options.padding),
      dataFormat: "NHWC",
    });
  }

  /**
   * Applies signed spatial padding to an NHWC tensor: negative amounts crop rows/columns here,
   * positive ones are returned for the convolution to apply (saving a padded copy).
   */
  cropNegative(x: TensorInfo, padding: SpatialPadding): { x: TensorInfo; padding: SpatialPadding } {
    const [[top, bottom], [left, right]] = padding;
    const [n, h, w, c] = shape4(x);
    const cropTop = Math.max(0, -top);
    const cropLeft = Math.max(0, -left);
    const keptH = h - cropTop - Math.max(0, -bottom);
    const keptW = w - cropLeft - Math.max(0, -right);
    const cropped = cropTop === 0 && cropLeft === 0 && keptH === h && keptW === w
      ? x
      : this.slice(x, [0, cropTop, cropLeft, 0], [n, keptH, keptW, c]);
    return {
      x: cropped,
      padding: [[Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)]],
    };
  }

  /**
   * Inserts `stride - 1` zeros after every row and column of an NHWC tensor (the "fractionally
   * strided" input of a transposed convolution); the result is `[n, h * sh, w * sw, c]`.
   */
  interleaveZeros(x: TensorInfo, strides: [number, number]): TensorInfo {
    const [sh, sw] = strides;
    if (sh === 1 && sw === 1) return x;
    const [n, h, w, c] = shape4(x);
    const spread = this.reshape(x, [n, h, 1, w, 1, c]);
    const padded = this.pad(spread, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
    return this.reshape(padded, [n, h * sh, w * sw, c]);
  }
}

/**
 * Runs `body` in a fresh {@link WasmKernelScope}: the returned tensor survives, every other
 * intermediate is freed, also when `body` throws.
 */
export function composeWasmKernel(backend: unknown, body: (scope: WasmKernelScope) => TensorInfo): TensorInfo {
  // tfjs types a kernel's backend as `{}`; check it is a real one before using it.
  if (!(backend instanceof tf.KernelBackend)) {
    throw new WasmKernelError(`a composed wasm kernel was called with backend ${String(backend)}, not a tfjs KernelBackend`);
  }
  const scope = new WasmKernelScope(backend);
  try {
    return scope.release(body(scope));
  } catch (error) {
    scope.disposeAll();
    throw error;
  }
}

/** The shape of a rank-4 tensor, or a clear error. */
export function shape4(x: TensorInfo): [number, number, number, number] {
  const [a, b, c, d] = x.shape;
  if (x.shape.length !== 4 || a === undefined || b === undefined || c === undefined || d === undefined) {
    throw new WasmKernelError(`expected a rank-4 tensor, got shape [${x.shape.join(",")}]`);
  }
  return [a, b, c, d];
}

function explicitPadding(padding: SpatialPadding): tf.backend_util.ExplicitPadding {
  const [[top, bottom], [left, right]] = padding;
  if (Math.min(top, bottom, left, right) < 0) {
    throw new WasmKernelError(`convolution padding must be non-negative, got ${JSON.stringify(padding)}`);
  }
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}
