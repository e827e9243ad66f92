/** The MNIST digits the `mnist` package ships: split per digit, interleaved by class, any sample shape. */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { mnistDigits } from "../../lib/data/mnist-digits.js";

test("mnistDigits splits each digit 85/15, interleaves the classes, and gives the same pixels in any sample shape", () => {
  const flat = mnistDigits();
  const images = mnistDigits({ sampleShape: [28, 28, 1] });

  assert.equal(flat.train.size + flat.test.size, 10_000);
  assert.ok(Math.abs(flat.train.size / 10_000 - 0.85) < 0.01, `train holds ${flat.train.size} of 10,000`);
  assert.deepEqual(images.train.sampleShape, [28, 28, 1]);
  const indices = Uint32Array.from({ length: 20 }, (_, i) => i);
  const a = flat.train.batch(indices);
  const b = images.train.batch(indices);
  try {
    assert.deepEqual(Array.from(tf.argMax(a.ys, 1).dataSync()), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "any prefix holds every class");
    assert.deepEqual(a.xs.dataSync(), b.xs.dataSync(), "both calls give the same pixels");
  } finally {
    tf.dispose([a.xs, a.ys, b.xs, b.ys]);
  }
});
