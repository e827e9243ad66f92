/**
 * Single-process training, no cluster: the baseline of bench/training.ts. Imported, it trains in
 * the calling process; run as a script (`node training-alone.js MODEL STEPS WARMUP [BACKEND]`) it
 * trains in its own process and prints `{ "samplesPerSecond": N }`, for the machine's ceiling (two
 * of these at once).
 */
import { fileURLToPath } from "node:url";
import { useBlasBackend } from "../lib/backend/load-blas.js";
import { useWasmBackend } from "../lib/backend/load-wasm.js";
import { trainSingleProcess } from "../lib/training/train-single-process.js";
import { benchTrainOptions, steadySamplesPerSecond, stepsOf, type BenchModel } from "./training-models.js";

/** The CPU backends the benchmark compares. */
export type BenchBackend = "wasm-blas" | "wasm";

/** Trains `model` for `steps` steps in this process on `backend`; steady-state samples per second. */
export async function trainAlone(model: BenchModel, steps: number, warmup: number, backend: BenchBackend = "wasm"): Promise<number> {
  if (backend === "wasm-blas") await useBlasBackend();
  else await useWasmBackend();
  const { records } = await trainSingleProcess(benchTrainOptions(model, 1, steps));
  return steadySamplesPerSecond(stepsOf(records), warmup);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [model, steps, warmup, backend = "wasm"] = process.argv.slice(2);
  if (model !== "mlp" && model !== "cnn") throw new Error(`usage: training-alone.js mlp|cnn STEPS WARMUP [wasm-blas|wasm], got ${JSON.stringify(model)}`);
  if (backend !== "wasm-blas" && backend !== "wasm") throw new Error(`backend must be wasm-blas or wasm, got ${JSON.stringify(backend)}`);
  // A fresh process runs tfjs's wasm code before V8 has optimised it (WebAssembly tiers up
  // lazily) and JavaScript before the JIT has: one unmeasured run first, as the clusters get.
  await trainAlone(model, Number(steps), Number(warmup), backend);
  const samplesPerSecond = await trainAlone(model, Number(steps), Number(warmup), backend);
  process.stdout.write(`${JSON.stringify({ samplesPerSecond })}\n`);
}
