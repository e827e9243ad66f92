import assert from "node:assert/strict";
import { before, describe, test, type TestContext } from "node:test";

import * as tf from "@tensorflow/tfjs";
import type { NamedAttrMap } from "@tensorflow/tfjs";

import { registerMissingWasmKernels } from "../../lib/backend/wasm-kernels/index.js";
import { convCases, convShapes, describeCase, floats, type ConvCase } from "./conv-cases.js";
import { prepareBackends, runKernelOn, scaledMaxError, type InputSpec } from "./kernel-comparison.js";

/**
 * Largest accepted |wasm − cpu| relative to max(1, max |cpu|). float32 sums of up to a few
 * thousand products, taken in a different order, differ by ~1e-6 of the result's scale.
 */
const TOLERANCE = 1e-5;

async function assertKernelMatchesCpu(kernelName: string, inputs: Record<string, InputSpec>, attrs: NamedAttrMap, label: string): Promise<number> {
  const expected = await runKernelOn("cpu", kernelName, inputs, attrs);
  const actual = await runKernelOn("wasm", kernelName, inputs, attrs);
  assert.deepEqual(actual.shape, expected.shape, `${kernelName} shape, ${label}`);
  const error = scaledMaxError(actual.values, expected.values);
  assert.ok(error <= TOLERANCE, `${kernelName}: scaled error ${error} > ${TOLERANCE} for ${label}`);
  return error;
}

/** Compares a kernel over every usable case; reports the worst error and insists most cases ran. */
async function compareOverCases(
  t: TestContext,
  kernelName: string,
  cases: ConvCase[],
  depthwise: boolean,
  build: (c: ConvCase, shapes: NonNullable<ReturnType<typeof convShapes>>, index: number) => { inputs: Record<string, InputSpec>; attrs: NamedAttrMap },
): Promise<void> {
  let worst = 0;
  let ran = 0;
  for (const [i, c] of cases.entries()) {
    const shapes = convShapes(c, depthwise);
    if (shapes === undefined) continue;
    const { inputs, attrs } = build(c, shapes, i);
    worst = Math.max(worst, await assertKernelMatchesCpu(kernelName, inputs, attrs, describeCase(c)));
    ran++;
  }
  t.diagnostic(`${kernelName}: ${ran} of ${cases.length} cases, worst scaled error ${worst.toExponential(2)}`);
  assert.ok(ran >= cases.length * 0.6, `only ${ran} of ${cases.length} cases had a valid geometry`);
  assert.ok(worst > 0, "no rounding difference at all: the composed kernel may not have run");
}

describe("wasm gradient kernels match the cpu backend", () => {
  before(prepareBackends);

  test("Conv2DBackpropFilter over strides, paddings, odd sizes and both data formats", async (t) => {
    await compareOverCases(t, "Conv2DBackpropFilter", convCases(11, 40, { nchw: true }), false, (c, shapes, i) => ({
      inputs: { x: floats(i, shapes.x), dy: floats(i + 1000, shapes.dy) },
      attrs: { strides: c.strides, pad: c.pad, dataFormat: c.dataFormat, filterShape: shapes.filter },
    }));
  });

  test("Conv2DBackpropInput (replaced by a composed convolution) over the same kinds of cases", async (t) => {
    await compareOverCases(t, "Conv2DBackpropInput", convCases(12, 40, { nchw: true }), false, (c, shapes, i) => ({
      inputs: { dy: floats(i, shapes.dy), filter: floats(i + 1000, [...shapes.filter]) },
      attrs: { strides: c.strides, pad: c.pad, dataFormat: c.dataFormat, inputShape: shapes.x },
    }));
  });

  // Dilation 1 only: tfjs's depthwise gradient rejects dilations > 1 and the cpu kernels ignore them.
  test("DepthwiseConv2dNativeBackpropFilter with channel multipliers 1, 2 and 4", async (t) => {
    await compareOverCases(t, "DepthwiseConv2dNativeBackpropFilter", convCases(13, 40, { nchw: false }), true, (c, shapes, i) => ({
      inputs: { x: floats(i, shapes.x), dy: floats(i + 1000, shapes.dy) },
      attrs: { strides: c.strides, dilations: 1, pad: c.pad, filterShape: shapes.filter },
    }));
  });

  test("DepthwiseConv2dNativeBackpropInput with channel multipliers 1, 2 and 4", async (t) => {
    await compareOverCases(t, "DepthwiseConv2dNativeBackpropInput", convCases(14, 40, { nchw: false }), true, (c, shapes, i) => ({
      inputs: { dy: floats(i, shapes.dy), filter: floats(i + 1000, [...shapes.filter]) },
      attrs: { strides: c.strides, dilations: 1, pad: c.pad, inputShape: shapes.x },
    }));
  });

  test("BatchMatMul (replaced where an operand is transposed) for ranks 2–4, broadcasting and all transpose flags", async () => {
    const cases: Array<{ a: number[]; b: number[] }> = [
      { a: [7, 5], b: [5, 3] },
      { a: [1, 9], b: [9, 1] },
      { a: [4, 7, 5], b: [4, 5, 3] },
      { a: [4, 7, 5], b: [1, 5, 6] },
      { a: [2, 3, 6, 5], b: [2, 3, 5, 4] },
      { a: [33, 65], b: [65, 17] },
    ];
    for (const [i, { a, b }] of cases.entries()) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          const swapLast = (shape: number[], swap: boolean): number[] => (swap ? [...shape.slice(0, -2), shape.at(-1) ?? 1, shape.at(-2) ?? 1] : shape);
          await assertKernelMatchesCpu(
            "BatchMatMul",
            { a: floats(i, swapLast(a, transposeA)), b: floats(i + 1000, swapLast(b, transposeB)) },
            { transposeA, transposeB },
            `a [${a.join(",")}], b [${b.join(",")}], transposeA ${transposeA}, transposeB ${transposeB}`,
          );
        }
      }
    }
  });

  test("UnsortedSegmentSum sums repeated ids and drops ids outside [0, numSegments)", async () => {
    const ids = Int32Array.from([3, 0, 3, -1, 7, 2, 0, 9, 3, 1]);
    for (const rowShape of [[], [4], [2, 3]]) {
      const shape = [ids.length, ...rowShape];
      const x = floats(5, shape);
      for (const dtype of ["float32", "int32"] as const) {
        const data = dtype === "float32" ? x.values : Int32Array.from(x.values, (v) => Math.round(v * 100));
        await assertKernelMatchesCpu(
          "UnsortedSegmentSum",
          { x: { values: data, shape, dtype }, segmentIds: { values: ids, shape: [ids.length], dtype: "int32" } },
          { numSegments: 8 },
          `rows ${JSON.stringify(rowShape)}, ${dtype}`,
        );
      }
    }
  });
});

describe("registerMissingWasmKernels", () => {
  before(prepareBackends);

  test("is idempotent and registers nothing on a second call", () => {
    assert.deepEqual(registerMissingWasmKernels(), []);
    for (const name of ["Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropFilter", "DepthwiseConv2dNativeBackpropInput", "UnsortedSegmentSum"]) {
      assert.ok(tf.getKernel(name, "wasm"), `${name} is registered for wasm`);
    }
  });

  test("leaves no tensors or backend buffers behind after repeated calls", async () => {
    await tf.setBackend("wasm");
    const backend = tf.backend();
    const x = tf.randomNormal<tf.Rank.R4>([2, 9, 9, 3]);
    const filter = tf.randomNormal<tf.Rank.R4>([3, 3, 3, 4]);
    const dwFilter = tf.randomNormal<tf.Rank.R4>([3, 3, 3, 2]);
    const table = tf.randomNormal<tf.Rank.R2>([6, 5]);
    // Each call runs every composed kernel once (conv2d's two gradients, depthwise's two, gather's).
    const run = (): void => {
      const grads = tf.tidy(() => [
        ...tf.grads((a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same").square().sum())([x, filter]),
        ...tf.grads((a, b) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "valid").sum())([x, dwFilter]),
        ...tf.grads((t) => tf.gather(t as tf.Tensor2D, tf.tensor1d([0, 5, 5, 2], "int32")).sum())([table]),
      ]);
      assert.equal(grads.length, 5);
      tf.dispose(grads);
    };
    run();
    const tensorsBefore = tf.memory().numTensors;
    const buffersBefore = backend.numDataIds();
    for (let i = 0; i < 5; i++) run();
    assert.equal(tf.memory().numTensors, tensorsBefore);
    assert.equal(backend.numDataIds(), buffersBefore);
    tf.dispose([x, filter, dwFilter, table]);
  });
});
