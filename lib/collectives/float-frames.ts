/**
 * Float32 payloads in and out of ZeroMQ frames without needless copies. ZeroMQ sends a typed array
 * of more than 128 bytes straight from its memory after `send()` resolves, and hands received
 * messages of more than 128 bytes to JavaScript as Buffers over its own memory: so a payload is
 * sent as a view, a received one is read (and summed into) in place when it is 4-byte aligned, and
 * nothing is written to a payload after it has been sent.
 */

/** The bytes of `values`, as a view (no copy). */
export function bytesOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * The float32 values of a received payload frame: a view over the frame when its offset is
 * 4-byte aligned (as ZeroMQ's heap-allocated large messages are), else an aligned copy (a small
 * message can sit anywhere inside ZeroMQ's receive buffer). Either way the array is the caller's
 * to change: nothing else holds the frame.
 */
export function floatsOf(frame: Uint8Array): Float32Array {
  const count = frame.byteLength >>> 2;
  if (frame.byteOffset % 4 === 0) return new Float32Array(frame.buffer, frame.byteOffset, count);
  const copy = new Float32Array(count);
  new Uint8Array(copy.buffer).set(frame.subarray(0, count * 4));
  return copy;
}

/** Arrays at least this long are allocated without zero-filling. */
const uninitializedFrom = 16384;

/**
 * A new array of `length` values for the caller to fill completely before anyone sees it. Large
 * ones skip the zero-fill (~0.1–0.3 ms per 4 MiB here): `Buffer.allocUnsafeSlow` memory is never
 * pooled, so the array owns its whole ArrayBuffer, at offset 0.
 */
export function arrayToFill(length: number): Float32Array {
  if (length < uninitializedFrom) return new Float32Array(length);
  const bytes = Buffer.allocUnsafeSlow(length * 4);
  return new Float32Array(bytes.buffer, bytes.byteOffset, length);
}

/**
 * `target[i] += source[i]` for every i (same lengths). Unrolled by 8: V8 does not vectorise, and
 * the unrolled loop ran ~1.8x faster than the plain one here (1.8 against 1.0 G values/s). The ring
 * sums with simd-floats.ts instead (WebAssembly SIMD, ~2.4x faster again, the same bits); this loop
 * is the star oracle's, kept independent of the code it checks, and the fallback.
 */
export function addInto(target: Float32Array, source: Float32Array): void {
  const length = target.length;
  const unrolled = length - (length % 8);
  let i = 0;
  for (; i < unrolled; i += 8) {
    target[i]! += source[i]!;
    target[i + 1]! += source[i + 1]!;
    target[i + 2]! += source[i + 2]!;
    target[i + 3]! += source[i + 3]!;
    target[i + 4]! += source[i + 4]!;
    target[i + 5]! += source[i + 5]!;
    target[i + 6]! += source[i + 6]!;
    target[i + 7]! += source[i + 7]!;
  }
  for (; i < length; i++) target[i]! += source[i]!;
}

/** `target[i] /= divisor` for every i. Division, not multiplication by 1/divisor, so every rank and the star oracle round alike. */
export function divideInto(target: Float32Array, divisor: number): void {
  const length = target.length;
  for (let i = 0; i < length; i++) target[i]! /= divisor;
}
