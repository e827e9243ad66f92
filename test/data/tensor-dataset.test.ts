import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { TensorDataset } from "../../lib/data/tensor-dataset.js";
import { RingbookError } from "../../lib/errors.js";

await tf.setBackend("cpu");

const arrayOf = (tensor: tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor>): unknown => {
  if (tensor instanceof tf.Tensor) return { shape: tensor.shape, dtype: tensor.dtype, values: Array.from(tensor.dataSync()) };
  throw new Error("expected one tensor");
};

test("gathers samples by index from nested arrays, typed arrays, tensors and shaped values, keeping dtypes", () => {
  const images = tf.tensor3d([[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]]);
  const dataset = new TensorDataset({
    xs: { image: images, flags: [[true], [false], [true]], code: { values: Int32Array.of(7, 8, 9), shape: [3] } },
    ys: Float32Array.of(0.5, 1.5, 2.5),
  });
  images.dispose();
  assert.equal(dataset.size, 3);
  const { xs, ys } = dataset.batch(Uint32Array.of(2, 0));
  const map = xs as Record<string, tf.Tensor>;
  assert.deepEqual(arrayOf(map.image!), { shape: [2, 2, 2], dtype: "float32", values: [9, 10, 11, 12, 1, 2, 3, 4] });
  assert.deepEqual(arrayOf(map.flags!), { shape: [2, 1], dtype: "bool", values: [1, 1] });
  assert.deepEqual(arrayOf(map.code!), { shape: [2], dtype: "int32", values: [9, 7] });
  assert.deepEqual(arrayOf(ys as tf.Tensor), { shape: [2], dtype: "float32", values: [2.5, 0.5] });
  tf.dispose([...Object.values(map), ys as tf.Tensor]);
});

test("a flat typed array takes its sample count from the other arrays, or from size", () => {
  const withLabels = new TensorDataset({ xs: Float32Array.from({ length: 12 }, (_, i) => i), ys: Int32Array.of(0, 1, 0, 1) });
  assert.equal(withLabels.size, 4);
  const { xs, ys } = withLabels.batch(Uint32Array.of(3));
  assert.deepEqual(arrayOf(xs as tf.Tensor), { shape: [1, 3], dtype: "float32", values: [9, 10, 11] });
  assert.deepEqual(arrayOf(ys as tf.Tensor), { shape: [1], dtype: "int32", values: [1] });
  tf.dispose([xs as tf.Tensor, ys as tf.Tensor]);
  const sized = new TensorDataset({ xs: new Float32Array(12), ys: new Float32Array(6), size: 3 });
  const batch = sized.batch(Uint32Array.of(0, 1, 2));
  assert.deepEqual((batch.xs as tf.Tensor).shape, [3, 4]);
  assert.deepEqual((batch.ys as tf.Tensor).shape, [3, 2]);
  tf.dispose([batch.xs as tf.Tensor, batch.ys as tf.Tensor]);
});

test("slice keeps the samples of a range, with their shapes", () => {
  const dataset = new TensorDataset({ xs: [[1, 2], [3, 4], [5, 6]], ys: [[1], [2], [3]], name: "pairs" });
  const tail = dataset.slice(1, 3);
  assert.equal(tail.size, 2);
  assert.equal(tail.name, "pairs[1:3]");
  const { xs } = tail.batch(Uint32Array.of(1));
  assert.deepEqual(arrayOf(xs as tf.Tensor), { shape: [1, 2], dtype: "float32", values: [5, 6] });
  (xs as tf.Tensor).dispose();
});

test("arrays that do not line up are refused, naming both", () => {
  const refused = (make: () => unknown, message: RegExp) =>
    assert.throws(make, (error: unknown) => error instanceof RingbookError && message.test(error.message));
  refused(() => new TensorDataset({ xs: [[1], [2], [3]], ys: [1, 2] }), /ys has 2 samples but xs has 3; every input and target needs one entry per sample/);
  refused(() => new TensorDataset({ xs: [[1], [2]], ys: new Float32Array(3) }), /ys has 3 values, which is not a whole number of values for each of the 2 samples/);
  refused(() => new TensorDataset({ xs: [["a"]], ys: [1] } as never), /xs\[0\]\[0\] is a string \("a"\); expected a number/);
  refused(() => new TensorDataset({ xs: [[1, 2]], ys: [1] }).batch(Uint32Array.of(1)), /has 1 samples, asked for index 1/);
});
