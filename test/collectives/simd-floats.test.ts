import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addInto, divideInto } from "../../lib/collectives/float-frames.js";
import { addIntoFast, divideIntoFast, simdAvailable } from "../../lib/collectives/simd-floats.js";
import { rankValues, sameBits } from "./fixtures/test-data.js";

/** Floats of every kind: wide exponents, subnormals, ±0, ±Infinity, NaN (one NaN pattern: NaN payloads are not compared). */
function awkwardValues(length: number, seed: number): Float32Array {
  const bits = new Uint32Array(length);
  let state = seed | 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bits[i] = state >>> 0;
  }
  const values = new Float32Array(bits.buffer);
  const specials = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38, 1, -1];
  for (let i = 0; i < length; i++) {
    if (Number.isNaN(values[i])) values[i] = NaN; // canonical NaN: no payload to compare
    if (i % 7 === 0) values[i] = specials[(i / 7) % specials.length]!;
  }
  return values;
}

const lengths = [0, 1, 15, 16, 17, 255, 256, 257, 1000, 32768, 32768 + 17, 65536 * 3 + 5];

describe("WebAssembly SIMD float kernels", () => {
  test("are in use on Node 20", () => {
    assert.equal(simdAvailable, true);
  });

  test("addIntoFast gives the scalar loop's bits, for every length and awkward values", () => {
    for (const length of lengths) {
      for (const [a, b] of [
        [rankValues(1, 0, length, "floats"), rankValues(1, 1, length, "floats")],
        [awkwardValues(length, 11), awkwardValues(length, 29)],
      ] as const) {
        const bBefore = b.slice();
        const expected = a.slice();
        addInto(expected, b);
        const target = a.slice();
        const copy = new Float32Array(length).fill(42);
        addIntoFast(target, b, copy);
        assert.ok(sameBits(target, expected), `addIntoFast, ${length} values`);
        assert.ok(sameBits(copy, expected), `addIntoFast's copy, ${length} values`);
        assert.ok(sameBits(b, bBefore), "the source is unchanged");
      }
    }
  });

  test("divideIntoFast gives the scalar loop's bits", () => {
    for (const length of lengths) {
      for (const divisor of [2, 3, 4, 7]) {
        const values = awkwardValues(length, 5 + divisor);
        const expected = values.slice();
        divideInto(expected, divisor);
        divideIntoFast(values, divisor);
        assert.ok(sameBits(values, expected), `${length} values / ${divisor}`);
      }
    }
  });

  test("works on views at any 4-byte offset (ZeroMQ's receive buffers are views)", () => {
    const backing = new Float32Array(40000).fill(1.5);
    const target = backing.subarray(3, 3 + 33000);
    const source = new Float32Array(33000).fill(0.25);
    addIntoFast(target, source);
    assert.equal(backing[2], 1.5);
    assert.equal(backing[3], 1.75);
    assert.equal(backing[3 + 32999], 1.75);
    assert.equal(backing[3 + 33000], 1.5);
  });
});
