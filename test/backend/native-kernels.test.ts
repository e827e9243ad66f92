/**
 * The native kernels of the wasm-blas backend (OpenBLAS sgemm zero-copy in the wasm heap, im2col
 * convolutions, max-pool and bias gradients) against tfjs's cpu backend, kernel by kernel:
 * every transpose and broadcast of BatchMatMul, _FusedMatMul with each bias shape and
 * activation, convolutions over strides, paddings (same, valid, numeric, explicit), dilations and
 * the benchmark CNN's layers, both convolution gradients, MaxPoolGrad with overlapping windows
 * and ties, Sum over leading axes. Skipped, saying why, where the addon cannot be loaded.
 */
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";

import * as tf from "@tensorflow/tfjs";
import type { NamedAttrMap } from "@tensorflow/tfjs";

import { nativeKernelNames } from "../../lib/backend/native/index.js";
import { convCases, convShapes, describeCase, floats, type ConvCase } from "./conv-cases.js";
import { prepareNativeBackends, runKernelOn, scaledMaxError, type InputSpec } from "./kernel-comparison.js";

/**
 * Largest accepted |wasm-blas − cpu| relative to max(1, max |cpu|). float32 sums of up to a few
 * thousand products in another order (OpenBLAS blocks and vectorises its sums) differ by ~1e-6
 * of the result's scale; 1e-5 leaves room without hiding a wrong index (errors of order 1).
 */
const TOLERANCE = 1e-5;

const unavailable = await prepareNativeBackends();

async function assertMatchesCpu(kernelName: string, inputs: Record<string, InputSpec>, attrs: NamedAttrMap, label: string): Promise<number> {
  const expected = await runKernelOn("cpu", kernelName, inputs, attrs);
  const actual = await runKernelOn("wasm", kernelName, inputs, attrs);
  assert.deepEqual(actual.shape, expected.shape, `${kernelName} shape, ${label}`);
  const error = scaledMaxError(actual.values, expected.values);
  assert.ok(error <= TOLERANCE, `${kernelName}: scaled error ${error} > ${TOLERANCE} for ${label}`);
  return error;
}

const swapLast = (shape: readonly number[], swap: boolean): number[] => (swap ? [...shape.slice(0, -2), shape.at(-1) ?? 1, shape.at(-2) ?? 1] : [...shape]);

async function overConvCases(
  t: TestContext,
  kernelName: string,
  cases: readonly ConvCase[],
  build: (c: ConvCase, shapes: NonNullable<ReturnType<typeof convShapes>>, index: number) => { inputs: Record<string, InputSpec>; attrs: NamedAttrMap },
): Promise<void> {
  let worst = 0;
  let ran = 0;
  for (const [i, c] of cases.entries()) {
    const shapes = convShapes(c, false);
    if (shapes === undefined) continue;
    const { inputs, attrs } = build(c, shapes, i);
    worst = Math.max(worst, await assertMatchesCpu(kernelName, inputs, attrs, describeCase(c)));
    ran++;
  }
  t.diagnostic(`${kernelName}: ${ran} of ${cases.length} cases, worst scaled error ${worst.toExponential(2)}`);
  assert.ok(ran >= cases.length * 0.6, `only ${ran} of ${cases.length} cases had a valid geometry`);
}

/** NHWC cases, plus dilated ones (stride 1: tfjs allows strides or dilations above 1, not both). */
function forwardCases(seed: number): ConvCase[] {
  const nhwc = convCases(seed, 30, { nchw: false });
  const dilated = nhwc.slice(5, 17).map((c, i): ConvCase => ({ ...c, strides: 1, dilations: i % 3 === 0 ? [2, 1] : 2 }));
  const pointwise: ConvCase = { batch: 3, inSize: [5, 4], inChannels: 6, outChannels: 7, filterSize: [1, 1], strides: 1, pad: "valid", dataFormat: "NHWC" };
  return [...nhwc, ...dilated, pointwise];
}

describe("wasm-blas kernels match the cpu backend", { skip: unavailable }, () => {
  test("the native kernels are the wasm backend's", () => {
    for (const name of nativeKernelNames) assert.ok(tf.getKernel(name, "wasm"), `${name} is registered`);
  });

  test("BatchMatMul: ranks 2–4, every transpose, batch dimensions broadcast like add", async () => {
    const cases: Array<{ a: number[]; b: number[] }> = [
      { a: [7, 5], b: [5, 3] },
      { a: [1, 9], b: [9, 1] },
      { a: [4, 7, 5], b: [4, 5, 3] },
      { a: [4, 7, 5], b: [1, 5, 6] },
      { a: [1, 7, 5], b: [3, 5, 6] },
      { a: [2, 3, 6, 5], b: [2, 3, 5, 4] },
      { a: [2, 3, 6, 5], b: [3, 5, 4] },
      { a: [128, 784], b: [784, 256] },
      { a: [33, 65], b: [65, 17] },
      { a: [3, 0], b: [0, 4] },
    ];
    for (const [i, { a, b }] of cases.entries()) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          await assertMatchesCpu(
            "BatchMatMul",
            { a: floats(i, swapLast(a, transposeA)), b: floats(i + 1000, swapLast(b, transposeB)) },
            { transposeA, transposeB },
            `a [${a.join(",")}], b [${b.join(",")}], transposeA ${transposeA}, transposeB ${transposeB}`,
          );
        }
      }
    }
  });

  test("BatchMatMul broadcasts batch dimensions that are 1 on either side ([2,1] against [1,3])", async () => {
    // tfjs's cpu backend indexes batches modulo their count, which is wrong here: compare with tiled operands.
    const a = floats(1, [2, 1, 4, 5]);
    const b = floats(2, [1, 3, 5, 6]);
    const broadcast = await runKernelOn("wasm", "BatchMatMul", { a, b }, { transposeA: false, transposeB: false });
    await tf.setBackend("cpu");
    const expected = tf.tidy(() => tf.matMul(tf.tile(tf.tensor(a.values, a.shape), [1, 3, 1, 1]), tf.tile(tf.tensor(b.values, b.shape), [2, 1, 1, 1])).dataSync());
    assert.deepEqual(broadcast.shape, [2, 3, 4, 6]);
    assert.ok(scaledMaxError(broadcast.values, expected) <= TOLERANCE);
  });

  test("_FusedMatMul: transposes × bias shapes × every activation, including PReLU weights", async () => {
    const activations = ["linear", "relu", "relu6", "elu", "leakyrelu", "prelu", "sigmoid"] as const;
    const shapes = { a: [2, 6, 5], b: [2, 5, 4] };
    // [4]: per column; [6, 4]: per row and column; [1]: a scalar; [2, 1, 4]: per batch and column;
    // [2, 6, 1]: per batch and row.
    const biasShapes = [undefined, [4], [6, 4], [1], [2, 1, 4], [2, 6, 1]];
    let i = 0;
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        for (const biasShape of biasShapes) {
          for (const activation of activations) {
            i++;
            const inputs: Record<string, InputSpec> = {
              a: floats(i, swapLast(shapes.a, transposeA)),
              b: floats(i + 500, swapLast(shapes.b, transposeB)),
            };
            if (biasShape !== undefined) inputs["bias"] = floats(i + 900, biasShape);
            if (activation === "prelu") inputs["preluActivationWeights"] = floats(i + 1300, i % 2 === 0 ? [4] : [6, 4]);
            await assertMatchesCpu("_FusedMatMul", inputs, { transposeA, transposeB, activation, leakyreluAlpha: 0.3 },
              `transposeA ${transposeA}, transposeB ${transposeB}, bias ${JSON.stringify(biasShape)}, ${activation}`);
          }
        }
      }
    }
  });

  test("_FusedMatMul with a bias that broadcasts unevenly over several batch dimensions (composed epilogue)", async () => {
    await assertMatchesCpu("_FusedMatMul", { a: floats(1, [2, 3, 4, 5]), b: floats(2, [2, 3, 5, 6]), bias: floats(3, [2, 1, 1, 6]) },
      { transposeA: false, transposeB: false, activation: "relu", leakyreluAlpha: 0.2 }, "bias [2,1,1,6] over [2,3,4,6]");
  });

  test("Conv2D over strides, paddings, dilations, odd sizes and a pointwise filter", async (t) => {
    await overConvCases(t, "Conv2D", forwardCases(21), (c, shapes, i) => ({
      inputs: { x: floats(i, shapes.x), filter: floats(i + 1000, [...shapes.filter]) },
      attrs: { strides: c.strides, pad: c.pad, dataFormat: "NHWC", dilations: c.dilations ?? 1 } as NamedAttrMap,
    }));
  });

  test("FusedConv2D with bias and activations", async (t) => {
    const activations = ["linear", "relu", "leakyrelu", "prelu", "elu", "sigmoid", "relu6"];
    await overConvCases(t, "FusedConv2D", forwardCases(22).slice(0, 21), (c, shapes, i) => {
      const outChannels = shapes.filter[3];
      const activation = activations[i % activations.length]!;
      const inputs: Record<string, InputSpec> = { x: floats(i, shapes.x), filter: floats(i + 1000, [...shapes.filter]), bias: floats(i + 2000, [outChannels]) };
      if (activation === "prelu") inputs["preluActivationWeights"] = floats(i + 3000, [outChannels]);
      return { inputs, attrs: { strides: c.strides, pad: c.pad, dataFormat: "NHWC", dilations: c.dilations ?? 1, activation, leakyreluAlpha: 0.1 } as NamedAttrMap };
    });
  });

  test("Conv2DBackpropInput over strides, paddings, odd sizes and a pointwise filter", async (t) => {
    const cases = [...convCases(23, 40, { nchw: false }), { batch: 2, inSize: [4, 5], inChannels: 3, outChannels: 5, filterSize: [1, 1], strides: 1, pad: "valid", dataFormat: "NHWC" } satisfies ConvCase];
    await overConvCases(t, "Conv2DBackpropInput", cases, (c, shapes, i) => ({
      inputs: { dy: floats(i, shapes.dy), filter: floats(i + 1000, [...shapes.filter]) },
      attrs: { strides: c.strides, pad: c.pad, dataFormat: "NHWC", inputShape: shapes.x },
    }));
  });

  test("Conv2DBackpropFilter over strides, paddings, odd sizes and a pointwise filter", async (t) => {
    const cases = [...convCases(24, 40, { nchw: false }), { batch: 2, inSize: [4, 5], inChannels: 3, outChannels: 5, filterSize: [1, 1], strides: 1, pad: "valid", dataFormat: "NHWC" } satisfies ConvCase];
    await overConvCases(t, "Conv2DBackpropFilter", cases, (c, shapes, i) => ({
      inputs: { x: floats(i, shapes.x), dy: floats(i + 1000, shapes.dy) },
      attrs: { strides: c.strides, pad: c.pad, dataFormat: "NHWC", filterShape: shapes.filter },
    }));
  });

  test("the convolution gradients in NCHW still work (they go to the kernels registered before)", async (t) => {
    const cases = convCases(25, 12, { nchw: true }).filter((c) => c.dataFormat === "NCHW");
    await overConvCases(t, "Conv2DBackpropFilter", cases, (c, shapes, i) => ({
      inputs: { x: floats(i, shapes.x), dy: floats(i + 1000, shapes.dy) },
      attrs: { strides: c.strides, pad: c.pad, dataFormat: "NCHW", filterShape: shapes.filter },
    }));
  });

  test("MaxPoolGrad: 2x2/2 as in the CNN, overlapping 3x3/1 windows with same padding, and ties", async () => {
    const cases: Array<{ x: number[]; filterSize: number | [number, number]; strides: number | [number, number]; pad: "same" | "valid" | number }> = [
      { x: [4, 26, 26, 32], filterSize: 2, strides: 2, pad: "valid" },
      { x: [2, 7, 6, 3], filterSize: 3, strides: 1, pad: "same" },
      { x: [2, 9, 9, 5], filterSize: [3, 2], strides: [2, 3], pad: 1 },
      { x: [1, 5, 5, 300], filterSize: 2, strides: 1, pad: "valid" },
    ];
    for (const [i, c] of cases.entries()) {
      const info = tf.backend_util.computePool2DInfo(c.x as [number, number, number, number], c.filterSize, c.strides, 1, c.pad);
      const x = floats(i, c.x);
      // Ties: values rounded to a coarse grid, so windows often hold their maximum twice.
      const tied = { ...x, values: Float32Array.from(x.values, (v) => Math.round(v * 3) / 3) };
      for (const input of [x, tied]) {
        const y = await runKernelOn("cpu", "MaxPool", { x: input }, { filterSize: c.filterSize, strides: c.strides, pad: c.pad });
        await assertMatchesCpu("MaxPoolGrad", { dy: floats(i + 100, info.outShape), input, output: { values: y.values, shape: y.shape, dtype: "float32" } },
          { filterSize: c.filterSize, strides: c.strides, pad: c.pad }, `${JSON.stringify(c)}${input === tied ? " with ties" : ""}`);
      }
    }
  });

  test("Sum over leading axes natively, other reductions through wasm", async () => {
    const cases: Array<{ shape: number[]; axis: number | number[] | null; keepDims?: boolean }> = [
      { shape: [128, 256], axis: [0] },
      { shape: [16, 26, 26, 32], axis: [0, 1, 2] },
      { shape: [16, 26, 26, 32], axis: [2, 0, 1], keepDims: true },
      { shape: [5, 7], axis: null },
      { shape: [5, 7], axis: [-2] },
      { shape: [5, 7, 3], axis: [1] },
      { shape: [5, 7, 3], axis: [0, 2] },
    ];
    for (const [i, c] of cases.entries()) {
      await assertMatchesCpu("Sum", { x: floats(i, c.shape) }, { axis: c.axis, keepDims: c.keepDims ?? false } as NamedAttrMap, JSON.stringify(c));
    }
    const ints: InputSpec = { values: Int32Array.from({ length: 12 }, (_, i) => i * 7 - 30), shape: [4, 3], dtype: "int32" };
    await assertMatchesCpu("Sum", { x: ints }, { axis: [0], keepDims: false }, "int32");
  });

  test("Add: a bias row natively (either operand), every other broadcast and int32 through wasm", async () => {
    const cases: Array<[number[], number[]]> = [
      [[16, 26, 26, 32], [32]],
      [[32], [4, 32]],
      [[2, 3, 4], [1, 4]],
      [[2, 3, 4], [1, 1, 4]],
      [[4, 5], [4, 5]],
      [[4, 1], [1, 5]],
      [[3, 4], [1]],
    ];
    for (const [i, [a, b]] of cases.entries()) await assertMatchesCpu("Add", { a: floats(i, a), b: floats(i + 50, b) }, {}, `[${a.join(",")}] + [${b.join(",")}]`);
    const ints = (shape: number[]): InputSpec => ({ values: Int32Array.from({ length: tf.util.sizeFromShape(shape) }, (_, i) => i - 3), shape, dtype: "int32" });
    await assertMatchesCpu("Add", { a: ints([3, 4]), b: ints([4]) }, {}, "int32");
  });

  test("Identity shares the input's memory: same values, and the output outlives the input", async () => {
    await tf.setBackend("wasm");
    const buffersBefore = tf.backend().numDataIds();
    const x = tf.tensor([1, 2, 3]);
    const y = tf.engine().runKernel("Identity", { x }, {}) as tf.Tensor;
    assert.equal(tf.backend().numDataIds(), buffersBefore + 1, "no copy was made");
    x.dispose();
    assert.deepEqual([...y.dataSync()], [1, 2, 3]);
    y.dispose();
    assert.equal(tf.backend().numDataIds(), buffersBefore);
  });

  test("Cast to the same dtype shares memory; real conversions still convert", async () => {
    await tf.setBackend("wasm");
    const buffersBefore = tf.backend().numDataIds();
    const x = tf.tensor([1.5, -2.5, 3]);
    const same = tf.cast(x, "float32");
    assert.equal(tf.backend().numDataIds(), buffersBefore + 1, "no copy was made");
    const ints = tf.cast(x, "int32");
    assert.deepEqual([...ints.dataSync()], [1, -2, 3]);
    tf.dispose([x, same, ints]);
    assert.equal(tf.backend().numDataIds(), buffersBefore);
  });

  test("ReLU's gradient in one native pass equals tfjs's composition, NaN and zeros included, and second derivatives still work", async () => {
    const values = Float32Array.from([...floats(3, [6, 37]).values.slice(0, 220), 0, -0, Number.NaN, 1e-30, -1e-30]);
    const dyValues = Float32Array.from(values, (_, i) => (i % 7) - 3.5);
    const gradientOn = async (backend: "cpu" | "wasm"): Promise<{ first: Float32Array; second: Float32Array }> => {
      await tf.setBackend(backend);
      const x = tf.tensor(values);
      const dy = tf.tensor(dyValues);
      const first = tf.grad((v: tf.Tensor) => tf.relu(v))(x, dy);
      // d/dx Σ relu'(x)·x² through tfjs's differentiable composition (a tape records the inner gradient).
      const finite = tf.tensor(values.filter((v) => !Number.isNaN(v)));
      const second = tf.grad((v: tf.Tensor) => tf.grad((w: tf.Tensor) => tf.relu(w).square().sum())(v).sum())(finite);
      finite.dispose();
      const result = { first: Float32Array.from(first.dataSync()), second: Float32Array.from(second.dataSync()) };
      tf.dispose([x, dy, first, second]);
      return result;
    };
    const expected = await gradientOn("cpu");
    const actual = await gradientOn("wasm");
    assert.deepEqual([...actual.first].map(String), [...expected.first].map(String), "the same values, NaN where tfjs gives NaN");
    assert.ok(scaledMaxError(actual.second, expected.second) <= TOLERANCE);
  });

  test("kernels leave no tensors or backend buffers behind, also through the composed epilogue", async () => {
    await tf.setBackend("wasm");
    const backend = tf.backend();
    const x = tf.randomNormal<tf.Rank.R4>([2, 9, 9, 3]);
    const filter = tf.randomNormal<tf.Rank.R4>([3, 3, 3, 4]);
    const a = tf.randomNormal<tf.Rank.R3>([2, 5, 6]);
    const b = tf.randomNormal<tf.Rank.R3>([2, 6, 3]);
    const run = (): void => {
      const outputs = tf.tidy(() => [
        ...tf.grads((p, q) => tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 2, "same").relu().maxPool(2, 2, "valid").square().sum())([x, filter]),
        ...tf.grads((p, q) => tf.matMul(p as tf.Tensor3D, q as tf.Tensor3D, false, false).square().sum())([a, b]),
        tf.fused.matMul({ a, b, bias: tf.ones([2, 1, 1, 3]).reshape([2, 1, 3]), activation: "relu" }),
        tf.fused.conv2d({ x, filter, strides: 1, pad: "same", bias: tf.ones([4]), activation: "relu" }),
      ]);
      tf.dispose(outputs);
    };
    run();
    const tensorsBefore = tf.memory().numTensors;
    const buffersBefore = backend.numDataIds();
    for (let i = 0; i < 5; i++) run();
    assert.equal(tf.memory().numTensors, tensorsBefore);
    assert.equal(backend.numDataIds(), buffersBefore);
    tf.dispose([x, filter, a, b]);
  });
});
