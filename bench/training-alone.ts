/**
 * Single-process training, no cluster: the baseline of bench/training.ts. Imported, it trains in
 * the calling process; run as a script (`node training-alone.js MODEL STEPS WARMUP`) it trains in
 * its own process and prints `{ "samplesPerSecond": N }`, for the machine's ceiling (two of these
 * at once).
 */
import { fileURLToPath } from "node:url";
import { useWasmBackend } from "../lib/backend/load-wasm.js";
import { trainSingleProcess } from "../lib/training/train-single-process.js";
import { benchTrainOptions, steadySamplesPerSecond, stepsOf, type BenchModel } from "./training-models.js";

/** Trains `model` for `steps` steps in this process; steady-state samples per second. */
export async function trainAlone(model: BenchModel, steps: number, warmup: number): Promise<number> {
  await useWasmBackend();
  const { records } = await trainSingleProcess(benchTrainOptions(model, 1, steps));
  return steadySamplesPerSecond(stepsOf(records), warmup);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [model, steps, warmup] = process.argv.slice(2);
  if (model !== "mlp" && model !== "cnn") throw new Error(`usage: training-alone.js mlp|cnn STEPS WARMUP, got ${JSON.stringify(model)}`);
  const samplesPerSecond = await trainAlone(model, Number(steps), Number(warmup));
  process.stdout.write(`${JSON.stringify({ samplesPerSecond })}\n`);
}
