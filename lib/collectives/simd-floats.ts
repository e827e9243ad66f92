/**
 * The all-reduce's arithmetic with WebAssembly SIMD (f32x4), several times faster than V8's scalar
 * loops over Float32Arrays (V8 does not vectorise them): here the unrolled JS `+=` loop ran at
 * ~1.7 G values/s and the division at ~1 G/s, while memcpy runs at ~14 G values/s. WebAssembly can
 * only read its own memory, so blocks of the operands are copied into a small scratch area (two
 * blocks that stay in cache), summed there, and copied back: three or four memcpys and a SIMD add
 * still cost less than half the scalar loop.
 *
 * Results are bit-identical to the scalar loops in float-frames.ts (the star oracle's): a float32
 * sum or quotient computed in float64 and rounded to float32 (what JS does) equals the correctly
 * rounded float32 operation (what f32x4 does), since float64 has more than 2 × 24 + 2 bits of
 * precision (double rounding is innocuous for +, −, ×, ÷); WebAssembly keeps subnormals. Where
 * WebAssembly SIMD is missing, the scalar loops are used.
 *
 * The module is assembled here from its instructions (302 bytes; no toolchain). In text form:
 * ```wat
 * (module
 *   (memory (export "memory") 1)
 *   ;; dst[i] += src[i] for the float32s in [dst, end), 64 bytes per iteration
 *   (func (export "addInto") (param $dst i32) (param $src i32) (param $end i32)
 *     (block $done (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
 *       (loop $next
 *         (v128.store offset=0 (local.get $dst) (f32x4.add (v128.load offset=0 (local.get $dst)) (v128.load offset=0 (local.get $src))))
 *         ;; … the same at offsets 16, 32, 48
 *         (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
 *         (local.set $src (i32.add (local.get $src) (i32.const 64)))
 *         (br_if $next (i32.lt_u (local.get $dst) (local.get $end))))))
 *   ;; dst[i] /= divisor, likewise
 *   (func (export "divideInto") (param $dst i32) (param $end i32) (param $divisor f32) (local $d v128)
 *     (local.set $d (f32x4.splat (local.get $divisor)))
 *     … (v128.store (local.get $dst) (f32x4.div (v128.load (local.get $dst)) (local.get $d))) …))
 * ```
 */
import { addInto as addIntoScalar, divideInto as divideIntoScalar } from "./float-frames.js";
import { section, text, uleb, vector } from "../wasm-module-bytes.js";

/** Values per scratch block (128 KiB): two blocks stay in a core's L2 cache. */
const blockElements = 32768;
/** Values handled per WebAssembly call step (64 bytes); the remainder (< 16 values) is done in JS. */
const stepElements = 16;
/** Below this many values the copies are not worth it. */
const simdFrom = 256;


/** The module's bytes (see the text form above). */
function assemble(): Uint8Array {
  const [i32, f32, v128] = [0x7f, 0x7d, 0x7b];
  const get = (local: number): number[] => [0x20, local];
  const set = (local: number): number[] => [0x21, local];
  const load = (offset: number): number[] => [0xfd, 0x00, 4, ...uleb(offset)];
  const store = (offset: number): number[] => [0xfd, 0x0b, 4, ...uleb(offset)];
  const f32x4Add = [0xfd, ...uleb(0xe4)];
  const f32x4Div = [0xfd, ...uleb(0xe7)];
  const f32x4Splat = [0xfd, 0x13];
  const advance = (local: number): number[] => [...get(local), 0x41, 0xc0, 0x00, 0x6a, ...set(local)]; // += 64
  // block; if dst >= end leave; loop { body; advance; if dst < end repeat }
  const loop = (dst: number, end: number, body: number[]): number[] => [0x02, 0x40, ...get(dst), ...get(end), 0x4f, 0x0d, 0, 0x03, 0x40, ...body, ...get(dst), ...get(end), 0x49, 0x0d, 0, 0x0b, 0x0b];
  const fourTimes = (one: (offset: number) => number[]): number[] => [0, 16, 32, 48].flatMap(one);
  const addBody = [...fourTimes((o) => [...get(0), ...get(0), ...load(o), ...get(1), ...load(o), ...f32x4Add, ...store(o)]), ...advance(0), ...advance(1)];
  const divideBody = [...fourTimes((o) => [...get(0), ...get(0), ...load(o), ...get(3), ...f32x4Div, ...store(o)]), ...advance(0)];
  const code = (locals: number[][], body: number[]): number[] => {
    const bytes = [...vector(locals), ...body, 0x0b];
    return [...uleb(bytes.length), ...bytes];
  };
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector([[0x60, ...vector([[i32], [i32], [i32]]), 0], [0x60, ...vector([[i32], [i32], [f32]]), 0]])),
    ...section(3, vector([[0], [1]])),
    ...section(5, vector([[0x00, 1]])),
    ...section(7, vector([[...text("memory"), 0x02, 0], [...text("addInto"), 0x00, 0], [...text("divideInto"), 0x00, 1]])),
    ...section(10, vector([code([], loop(0, 2, addBody)), code([[1, v128]], [...get(2), ...f32x4Splat, ...set(3), ...loop(0, 1, divideBody)])])),
  ]);
}

interface Exports {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  addInto(dst: number, src: number, end: number): void;
  divideInto(dst: number, end: number, divisor: number): void;
}

/** The part of the global WebAssembly API used here (the compiler's ES libraries do not declare it). */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

/** The instantiated kernels and their scratch blocks, or undefined where WebAssembly SIMD is unavailable. */
const kernels = ((): { exports: Exports; scratch: Float32Array } | undefined => {
  try {
    const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
    const bytes = assemble();
    if (wasm === undefined || !wasm.validate(bytes)) return undefined;
    // The exports are those of the module assembled above.
    const exports = new wasm.Instance(new wasm.Module(bytes)).exports as unknown as Exports;
    const pages = Math.ceil((2 * blockElements * 4) / 65536);
    exports.memory.grow(pages - 1);
    return { exports, scratch: new Float32Array(exports.memory.buffer, 0, 2 * blockElements) };
  } catch {
    return undefined;
  }
})();

/** Whether the WebAssembly SIMD kernels are in use (else the scalar loops). */
export const simdAvailable = kernels !== undefined;

/**
 * `target[i] += source[i]` for every i (same lengths), and the result also into `copyTo` when
 * given (same length): the ring's last reduce-scatter step both forwards and keeps its sum.
 */
export function addIntoFast(target: Float32Array, source: Float32Array, copyTo?: Float32Array): void {
  const length = target.length;
  if (kernels === undefined || length < simdFrom) {
    addIntoScalar(target, source);
    copyTo?.set(target);
    return;
  }
  const { exports, scratch } = kernels;
  const a = scratch.subarray(0, blockElements);
  const b = scratch.subarray(blockElements);
  const simdLength = length - (length % stepElements);
  for (let start = 0; start < simdLength; start += blockElements) {
    const end = Math.min(start + blockElements, simdLength);
    const count = end - start;
    a.set(target.subarray(start, end));
    b.set(source.subarray(start, end));
    exports.addInto(0, blockElements * 4, count * 4);
    const sum = a.subarray(0, count);
    target.set(sum, start);
    copyTo?.set(sum, start);
  }
  for (let i = simdLength; i < length; i++) {
    target[i]! += source[i]!;
    if (copyTo !== undefined) copyTo[i] = target[i]!;
  }
}

/** `target[i] /= divisor` for every i. */
export function divideIntoFast(target: Float32Array, divisor: number): void {
  const length = target.length;
  if (kernels === undefined || length < simdFrom) {
    divideIntoScalar(target, divisor);
    return;
  }
  const { exports, scratch } = kernels;
  const a = scratch.subarray(0, blockElements);
  const simdLength = length - (length % stepElements);
  for (let start = 0; start < simdLength; start += blockElements) {
    const end = Math.min(start + blockElements, simdLength);
    a.set(target.subarray(start, end));
    exports.divideInto(0, (end - start) * 4, divisor);
    target.set(a.subarray(0, end - start), start);
  }
  for (let i = simdLength; i < length; i++) target[i]! /= divisor;
}
