/**
 * Training throughput, one run, for an MLP and a CNN on the same backend (wasm here):
 * - in-process: single-process training in this process, no cluster;
 * - 1 worker: a 1-worker cluster (goal: at most 5% slower than in-process);
 * - 2 workers: a 2-worker cluster, the same batch per worker;
 * - ceiling: two independent compute-only processes at the same time (what this machine can do
 *   with two processes at all; goal: 2 workers reach at least 90% of it).
 * Steady-state throughput (samples / summed step time after a warm-up), medians over repeats that
 * interleave the configurations so that machine noise hits all of them.
 *
 * Usage: npm run build && node dist/bench/training.js [--models mlp,cnn] [--repeats 3]
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { launchCluster, type Cluster } from "../lib/index.js";
import { formatNumber, median } from "./stats.js";
import { trainAlone } from "./training-alone.js";
import { benchTrainOptions, steadySamplesPerSecond, type BenchModel } from "./training-models.js";

const aloneScript = fileURLToPath(new URL("./training-alone.js", import.meta.url));
const stepsOf: Record<BenchModel, { steps: number; warmup: number }> = { mlp: { steps: 60, warmup: 10 }, cnn: { steps: 16, warmup: 3 } };

async function trainOnCluster(cluster: Cluster, model: BenchModel): Promise<number> {
  const { steps, warmup } = stepsOf[model];
  const run = cluster.train(benchTrainOptions(model, cluster.worldSize, steps));
  const measured: Array<{ samples: number; stepMs: number }> = [];
  for await (const step of run.metrics) measured.push({ samples: step.samples, stepMs: step.stepMs });
  await run;
  return steadySamplesPerSecond(measured, warmup);
}

function aloneInChild(model: BenchModel): Promise<number> {
  const { steps, warmup } = stepsOf[model];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [aloneScript, model, String(steps), String(warmup)], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      try {
        resolve((JSON.parse(out.trim().split("\n").at(-1) ?? "") as { samplesPerSecond: number }).samplesPerSecond);
      } catch {
        reject(new Error(`training-alone ${model} exited with ${code}: ${out}`));
      }
    });
  });
}

const { values } = parseArgs({ options: { models: { type: "string", default: "mlp,cnn" }, repeats: { type: "string", default: "3" } } });
const models = values.models.split(",") as BenchModel[];
const repeats = Number(values.repeats);

const one = await launchCluster({ workers: 1 });
const two = await launchCluster({ workers: 2 });
const results = new Map<string, number[]>();
const record = (key: string, value: number): void => {
  results.set(key, [...(results.get(key) ?? []), value]);
};
try {
  for (const model of models) {
    // Warm up every path once (module loading, wasm compilation).
    await trainOnCluster(one, model);
    await trainOnCluster(two, model);
    await trainAlone(model, stepsOf[model].warmup + 2, 1);
    for (let i = 0; i < repeats; i++) {
      record(`${model}:in-process`, await trainAlone(model, stepsOf[model].steps, stepsOf[model].warmup));
      record(`${model}:1 worker`, await trainOnCluster(one, model));
      record(`${model}:2 workers`, await trainOnCluster(two, model));
      const [a, b] = await Promise.all([aloneInChild(model), aloneInChild(model)]);
      record(`${model}:ceiling`, a + b);
    }
  }
} finally {
  await one.close();
  await two.close();
}

console.log(`training throughput, samples/s (median of ${repeats}; steady state after warm-up), backend wasm, ${models.join(" and ")}`);
console.log(`${"model".padEnd(6)}  ${"in-process".padStart(11)}  ${"1 worker".padStart(9)}  ${"2 workers".padStart(10)}  ${"ceiling (2 procs)".padStart(18)}  ${"1w/in-proc".padStart(10)}  ${"2w/ceiling".padStart(10)}`);
for (const model of models) {
  const m = (config: string): number => median(results.get(`${model}:${config}`) ?? []);
  const [alone, w1, w2, ceiling] = [m("in-process"), m("1 worker"), m("2 workers"), m("ceiling")];
  console.log(
    `${model.padEnd(6)}  ${formatNumber(alone).padStart(11)}  ${formatNumber(w1).padStart(9)}  ${formatNumber(w2).padStart(10)}  ${formatNumber(ceiling).padStart(18)}  ${formatNumber(w1 / alone).padStart(10)}  ${formatNumber(w2 / ceiling).padStart(10)}`,
  );
}
for (const model of models) {
  const m = (config: string): number => median(results.get(`${model}:${config}`) ?? []);
  console.log(`${m("1 worker") >= 0.95 * m("in-process") ? "pass" : "FAIL"}  ${model}: 1 worker at most 5% slower than in-process`);
  console.log(`${m("2 workers") >= 0.9 * m("ceiling") ? "pass" : "FAIL"}  ${model}: 2 workers at least 90% of two independent processes`);
}
console.log("all samples:", JSON.stringify(Object.fromEntries([...results].map(([key, list]) => [key, list.map((value) => Math.round(value))]))));
