/**
 * The optimizers' loops in WebAssembly SIMD (f32x4), run on the tfjs wasm backend's own memory:
 * the module imports that WebAssembly.Memory, so parameters are read and new values written where
 * tfjs keeps them, without copies (the gradients are copied in once per step). Each f32x4
 * operation is IEEE float32 per lane, so the results are those of fused-optimizer-math.ts's
 * JavaScript loops (and of tfjs's optimizers), bit for bit. About 8x faster than those loops:
 * V8 does not vectorise JavaScript, and Math.fround after every operation costs.
 *
 * Assembled here from its instructions (no toolchain), like lib/collectives/simd-floats.ts. Every
 * function has the same signature:
 * `(value, out, grad, slot0, slot1, slot2, valueEnd: i32, scalar0..scalar7: f32)`, byte offsets
 * into the memory; it runs over 4 floats at a time from `value` to `valueEnd` (the caller does
 * the remainder in JavaScript) and advances every pointer in step.
 */
import type { OptimizerName } from "./optimizers.js";
import { section, text, uleb, vector } from "../wasm-module-bytes.js";


type Code = number[];
const [VALUE, OUT, GRAD, S0, S1, S2, END] = [0, 1, 2, 3, 4, 5, 6];
const scalarParam = (k: number): number => 7 + k;
const scalarLocal = (k: number): number => 15 + k;
const tempLocal = (t: number): number => 23 + t;
const simd = (op: number): Code => [0xfd, ...uleb(op)];
const load = (pointer: number): Code => [0x20, pointer, ...simd(0x00), 2, 0];
const store = (pointer: number, value: Code): Code => [0x20, pointer, ...value, ...simd(0x0b), 2, 0];
const k = (i: number): Code => [0x20, scalarLocal(i)];
const get = (t: number): Code => [0x20, tempLocal(t)];
const tee = (t: number, value: Code): Code => [...value, 0x22, tempLocal(t)];
const set = (t: number, value: Code): Code => [...value, 0x21, tempLocal(t)];
const binary = (op: number) => (a: Code, b: Code): Code => [...a, ...b, ...simd(op)];
const [add, sub, mul, div, max] = [binary(0xe4), binary(0xe5), binary(0xe6), binary(0xe7), binary(0xe9)];
const sqrt = (a: Code): Code => [...a, ...simd(0xe3)];
const abs = (a: Code): Code => [...a, ...simd(0xe0)];

/** The loop bodies, operation for operation as in fused-optimizer-math.ts (scalars in its order). */
const bodies = {
  sgd: [...store(OUT, add(mul(k(0), load(GRAD)), load(VALUE)))],
  momentum: [
    ...store(S0, tee(0, add(mul(k(1), load(S0)), load(GRAD)))),
    ...store(OUT, add(mul(k(0), get(0)), load(VALUE))),
  ],
  nesterov: [
    ...store(S0, tee(0, add(mul(k(1), load(S0)), tee(1, load(GRAD))))),
    ...store(OUT, add(mul(k(0), add(get(1), mul(get(0), k(1)))), load(VALUE))),
  ],
  adam: [
    ...store(S0, tee(1, add(mul(load(S0), k(0)), mul(tee(0, load(GRAD)), k(1))))),
    ...store(S1, tee(2, add(mul(load(S1), k(2)), mul(mul(get(0), get(0)), k(3))))),
    ...store(OUT, add(mul(div(div(get(1), k(4)), add(sqrt(div(get(2), k(5))), k(6))), k(7)), load(VALUE))),
  ],
  adamax: [
    ...store(S0, tee(1, add(mul(load(S0), k(0)), mul(tee(0, load(GRAD)), k(1))))),
    ...store(S1, tee(2, max(mul(load(S1), k(2)), abs(get(0))))),
    ...store(OUT, add(mul(k(3), div(get(1), add(get(2), k(4)))), load(VALUE))),
  ],
  rmsprop: [
    ...store(S0, tee(1, add(mul(load(S0), k(0)), mul(mul(tee(0, load(GRAD)), get(0)), k(1))))),
    ...store(S1, tee(2, add(mul(load(S1), k(2)), div(mul(get(0), k(3)), sqrt(add(get(1), k(4))))))),
    ...store(OUT, sub(load(VALUE), get(2))),
  ],
  rmspropCentered: [
    ...store(S0, tee(1, add(mul(load(S0), k(0)), mul(mul(tee(0, load(GRAD)), get(0)), k(1))))),
    ...store(S2, tee(3, add(mul(load(S2), k(0)), mul(get(0), k(1))))),
    ...store(S1, tee(2, add(mul(load(S1), k(2)), div(mul(get(0), k(3)), sqrt(sub(get(1), add(mul(get(3), get(3)), k(4)))))))),
    ...store(OUT, sub(load(VALUE), get(2))),
  ],
  adagrad: [
    ...store(S0, tee(1, add(load(S0), mul(tee(0, load(GRAD)), get(0))))),
    ...store(OUT, add(mul(div(get(0), sqrt(add(get(1), k(0)))), k(1)), load(VALUE))),
  ],
  adadelta: [
    ...set(0, load(GRAD)),
    ...set(1, load(S0)),
    ...set(3, load(S1)),
    ...store(S0, add(mul(get(1), k(0)), mul(mul(get(0), get(0)), k(1)))),
    // As tfjs: the update divides by the accumulated gradients from before this step.
    ...set(2, mul(div(sqrt(add(get(3), k(2))), sqrt(add(get(1), k(2)))), get(0))),
    ...store(S1, add(mul(get(3), k(0)), mul(mul(get(2), get(2)), k(1)))),
    ...store(OUT, add(mul(get(2), k(3)), load(VALUE))),
  ],
} satisfies Record<string, Code>;
type Variant = keyof typeof bodies;
const variants = Object.keys(bodies) as Variant[];

function assemble(): Uint8Array {
  const [i32, f32, v128] = [0x7f, 0x7d, 0x7b];
  const advance = [VALUE, OUT, GRAD, S0, S1, S2].flatMap((p) => [0x20, p, 0x41, 16, 0x6a, 0x21, p]);
  const splat = Array.from({ length: 8 }, (_, i) => [0x20, scalarParam(i), ...simd(0x13), 0x21, scalarLocal(i)]).flat();
  // block; if value >= end leave; loop { body; advance; if value < end repeat }
  const loop = (body: Code): Code => [0x02, 0x40, 0x20, VALUE, 0x20, END, 0x4f, 0x0d, 0, 0x03, 0x40, ...body, ...advance, 0x20, VALUE, 0x20, END, 0x49, 0x0d, 0, 0x0b, 0x0b];
  const code = (body: Code): number[] => {
    const bytes = [...vector([[12, v128]]), ...splat, ...loop(body), 0x0b];
    return [...uleb(bytes.length), ...bytes];
  };
  const params = [...Array<number[]>(7).fill([i32]), ...Array<number[]>(8).fill([f32])];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector([[0x60, ...vector(params), 0]])),
    ...section(2, vector([[...text("env"), ...text("memory"), 0x02, 0x00, 0x00]])),
    ...section(3, vector(variants.map(() => [0]))),
    ...section(7, vector(variants.map((name, i) => [...text(name), 0x00, i]))),
    ...section(10, vector(variants.map((name) => code(bodies[name])))),
  ]);
}

type Loop = (value: number, out: number, grad: number, s0: number, s1: number, s2: number, end: number, ...scalars: number[]) => void;

/** The part of the global WebAssembly API used here (the compiler's ES libraries do not declare it). */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => object;
}

/** The SIMD loops bound to one WebAssembly memory (the tfjs wasm backend's). */
export class SimdOptimizerLoops {
  readonly #loops: Record<Variant, Loop>;

  private constructor(loops: Record<Variant, Loop>) {
    this.#loops = loops;
  }

  /** Loops over `memory`, or undefined where WebAssembly SIMD is unavailable. */
  static over(memory: object): SimdOptimizerLoops | undefined {
    try {
      const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
      const bytes = assemble();
      if (wasm === undefined || !(memory instanceof wasm.Memory) || !wasm.validate(bytes)) return undefined;
      const { exports } = new wasm.Instance(new wasm.Module(bytes), { env: { memory } });
      const loops = Object.fromEntries(variants.map((name) => [name, exports[name]]));
      if (!variants.every((name) => typeof loops[name] === "function")) return undefined;
      return new SimdOptimizerLoops(loops as Record<Variant, Loop>);
    } catch {
      return undefined;
    }
  }

  /**
   * Runs `name`'s loop over the first `count - count % 4` values; byte offsets of the variable's
   * values, its new values, and its part of the gradient and slot arrays (0 for unused slots).
   * Returns how many values it did (the caller does the rest).
   */
  run(name: OptimizerName, scalars: Float32Array, pointers: { value: number; out: number; grad: number; slots: readonly number[] }, count: number): number {
    const done = count - (count % 4);
    if (done === 0) return 0;
    const variant: Variant =
      name === "momentum" && scalars[2] !== 0 ? "nesterov" : name === "rmsprop" && scalars[5] !== 0 ? "rmspropCentered" : name;
    const s = Array.from({ length: 8 }, (_, i) => scalars[i] ?? 0);
    const [s0 = 0, s1 = 0, s2 = 0] = pointers.slots;
    this.#loops[variant](pointers.value, pointers.out, pointers.grad, s0, s1, s2, pointers.value + done * 4, ...s);
    return done;
  }
}
