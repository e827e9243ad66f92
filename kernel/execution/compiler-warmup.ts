/**
 * Warms up the cell pipeline of the cell worker (sucrase, acorn, V8's script compiler, the MIME
 * bundle of a result) right after the worker starts, before the first cell comes. Every cell goes
 * through ~100 functions of two parsers; without a warm-up V8 optimizes them one by one as cells
 * arrive (~150 optimizing compilations spread over a session's first ~600 cells), and those cells
 * run slower meanwhile: measured on two cores, `1+1` and a small typed function took ~15% longer
 * (round-trip median over 300 cells) than after a warm-up of ~1,000 compiles (~150 ms).
 *
 * Nothing is run: the samples are compiled only, and results formatted are plain values. Work goes
 * in slices of at most `sliceMs`, each scheduled as its own event-loop task, so a cell that arrives
 * waits for one slice at most, and the warm-up stops for good once the first cell has arrived (real
 * cells warm the pipeline from then on) or its budget is spent.
 */

/** TypeScript a notebook is made of; `$N` becomes a counter so that no two sources are the same. */
const samples: readonly string[] = [
  "1 + $N",
  "const value$N: number = $N\nvalue$N * 2",
  "let total$N = 0\nfor (let i = 0; i < 3; i++) { if (i % 2) continue; total$N += i }\ntotal$N",
  "function scale$N(value: number, factor = 2): number { return value * factor + $N }",
  "async function load$N(path: string): Promise<string[]> { const parts = path.split('/'); await null; return parts }",
  "interface Point$N { x: number; y?: string; readonly tags: string[] }\nconst p$N: Point$N = { x: $N, tags: [] }\np$N",
  "type Shape$N = { kind: 'circle'; r: number } | { kind: 'square'; side: number }\nconst s$N: Shape$N = { kind: 'circle', r: $N }",
  "class Model$N<T extends object> {\n  #weights: T[] = []\n  constructor(private readonly name: string, public rate = 0.01) {}\n  add(w: T): this { this.#weights.push(w); return this }\n  get size(): number { return this.#weights.length }\n}\nnew Model$N<{ w: number }>('m').add({ w: $N }).size",
  "enum Phase$N { Train, Eval = 'eval' }\nPhase$N.Eval",
  "const [first$N, ...rest$N] = [1, 2, 3]\nconst { a$N = $N, b: renamed$N } = { b: 'x' } as { a$N?: number; b: string }\nrest$N.map((n) => n * first$N)",
  "import { join } from 'node:path'\nimport * as fs$N from 'node:fs'\njoin('a', String($N))",
  "const data$N = { id: $N, items: [1, 2, { deep: `t${$N}` }], fn: (x?: number) => x ?? 0 }\ndata$N.items?.length",
  "export const exported$N = new Map<string, number>([['k', $N]])\nexported$N.get('k')! + 1",
  "label$N: for (const [k, v] of Object.entries({ a: 1 })) { try { if (!v) throw new Error(k) } catch (e: unknown) { break label$N } finally { } }",
  "const gen$N = function* (): Generator<number> { yield $N };\n[...gen$N()].reduce((a, b) => a + b, 0) satisfies number",
];

/** Plain values whose text/plain a warm-up formats. */
const values: readonly unknown[] = [2, "text", [1, 2, 3], { a: 1, b: { c: [true, null] } }, new Map([["k", 1]]), 3.5, undefined];

export interface CompilerWarmupOptions {
  /** Compiles (without running) one cell's source; may throw for sources the options reject. */
  compile(source: string): void;
  /** Formats a value as a cell result would be. */
  format(value: unknown): void;
  /** True once the warm-up must stop (a cell arrived). */
  shouldStop(): boolean;
  /** Schedules the next slice as its own task (the worker's unwrapped setImmediate). */
  schedule(next: () => void): void;
  /** @default 150 */
  budgetMs?: number;
  /** @default 1 */
  sliceMs?: number;
}

/** Runs the warm-up in slices; resolves with what it did once it stopped. */
export function warmUpCompiler(options: CompilerWarmupOptions): Promise<{ compiles: number; spentMs: number; stopped: "budget" | "cell" }> {
  const budgetMs = options.budgetMs ?? 150;
  const sliceMs = options.sliceMs ?? 1;
  let compiles = 0;
  let spentMs = 0;
  return new Promise((resolve) => {
    const slice = (): void => {
      if (options.shouldStop()) {
        resolve({ compiles, spentMs, stopped: "cell" });
        return;
      }
      const start = performance.now();
      do {
        const source = (samples[compiles % samples.length] ?? "").replaceAll("$N", String(compiles));
        try {
          options.compile(source);
        } catch {
          // A sample the notebook's options reject (e.g. with JSX settings) still warmed the parsers.
        }
        options.format(values[compiles % values.length]);
        compiles++;
      } while (performance.now() - start < sliceMs);
      spentMs += performance.now() - start;
      if (spentMs >= budgetMs) resolve({ compiles, spentMs, stopped: "budget" });
      else options.schedule(slice);
    };
    options.schedule(slice);
  });
}
