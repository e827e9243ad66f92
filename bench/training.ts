/**
 * Training throughput, one run, for an MLP and a CNN on the same backend (wasm here):
 * - in-process: single-process training in this process, no cluster;
 * - 1 worker: a 1-worker cluster (goal: at most 5% slower than in-process);
 * - 2 workers: a 2-worker cluster, the same batch per worker;
 * - ceiling: two independent compute-only processes at the same time (what this machine can do
 *   with two processes at all; goal: 2 workers reach at least 90% of it), measured two ways, and
 *   the higher is the ceiling: two separate Node processes, and the 2-worker cluster's own worker
 *   processes each training alone (the same code, threads, environment and malloc settings as
 *   the 2-worker run, without the gradient exchange);
 * - 2 in lockstep: the same two workers training alone but meeting in a barrier every step: the
 *   cost of synchronous steps alone, a bound on any synchronous data parallelism here.
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
/** Steps per run and warm-up steps left out: runs of a few seconds, so that a step's outliers average out. */
const stepsOf: Record<BenchModel, { steps: number; warmup: number }> = { mlp: { steps: 150, warmup: 15 }, cnn: { steps: 24, warmup: 4 } };

/** Modules the in-cluster ceiling imports on the workers (file URLs of this build). */
const ceilingModules = {
  workerTrain: new URL("../lib/training/worker-train.js", import.meta.url).href,
  trainSpec: new URL("../lib/training/train-spec.js", import.meta.url).href,
  models: new URL("./training-models.js", import.meta.url).href,
};

/**
 * Every rank of `cluster` trains alone (a world of one) at the same time; total samples/s.
 * `lockstep`: the ranks still meet once per step, in a barrier, without exchanging gradients:
 * what synchronous steps cost by themselves (a step takes as long as the slowest rank's), the
 * bound of any synchronous data parallelism on this machine, however fast the all-reduce.
 */
async function ceilingInCluster(cluster: Cluster, model: BenchModel, lockstep = false): Promise<number> {
  const perRank = await cluster.run(
    async ({ args, collectives }) => {
      const { runWorkerTraining } = await import(args.modules.workerTrain);
      const { parseTrainOptions } = await import(args.modules.trainSpec);
      const { benchTrainOptions, steadySamplesPerSecond, stepsOf } = await import(args.modules.models);
      const spec = parseTrainOptions(benchTrainOptions(args.model, 1, args.steps), 1);
      const records: unknown[] = [];
      const env = {
        rank: 0,
        worldSize: 1,
        allReduceSum: async (values: Float32Array) => {
          if (args.lockstep) await collectives.barrier();
          return values;
        },
        broadcast: async (values: Float32Array | undefined) => values,
        emit: (event: { kind: string; records?: unknown[] }) => {
          if (event.kind === "steps") records.push(...(event.records ?? []));
        },
        stopRequested: () => false,
      };
      await runWorkerTraining(env, { ...spec, metricsIntervalMs: 3_600_000 });
      return steadySamplesPerSecond(stepsOf(records), args.warmup) as number;
    },
    { args: { modules: ceilingModules, model, steps: stepsOf[model].steps, warmup: stepsOf[model].warmup, lockstep } },
  );
  return perRank.reduce((sum, value) => sum + value, 0);
}

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
    await ceilingInCluster(two, model);
    for (let i = 0; i < repeats; i++) {
      record(`${model}:in-process`, await trainAlone(model, stepsOf[model].steps, stepsOf[model].warmup));
      record(`${model}:1 worker`, await trainOnCluster(one, model));
      record(`${model}:2 workers`, await trainOnCluster(two, model));
      const [a, b] = await Promise.all([aloneInChild(model), aloneInChild(model)]);
      record(`${model}:2 processes`, a + b);
      record(`${model}:2 workers alone`, await ceilingInCluster(two, model));
      record(`${model}:2 in lockstep`, await ceilingInCluster(two, model, true));
    }
  }
} finally {
  await one.close();
  await two.close();
}

console.log(`training throughput, samples/s (median of ${repeats}; steady state after warm-up), backend wasm, ${models.join(" and ")}`);
const columns = ["in-process", "1 worker", "2 workers", "2 processes", "2 workers alone", "2 in lockstep"];
console.log(`${"model".padEnd(6)}  ${columns.map((column) => column.padStart(15)).join("  ")}  ${"1w/in-proc".padStart(10)}  ${"2w/ceiling".padStart(10)}  ${"lockstep/ceiling".padStart(16)}`);
/** The ceiling: the higher of the two ways of running two independent compute-only processes. */
const ceilingOf = (m: (config: string) => number): number => Math.max(m("2 processes"), m("2 workers alone"));
for (const model of models) {
  const m = (config: string): number => median(results.get(`${model}:${config}`) ?? []);
  console.log(
    `${model.padEnd(6)}  ${columns.map((column) => formatNumber(m(column)).padStart(15)).join("  ")}  ${formatNumber(m("1 worker") / m("in-process")).padStart(10)}  ${formatNumber(m("2 workers") / ceilingOf(m)).padStart(10)}  ${formatNumber(m("2 in lockstep") / ceilingOf(m)).padStart(16)}`,
  );
}
for (const model of models) {
  const m = (config: string): number => median(results.get(`${model}:${config}`) ?? []);
  console.log(`${m("1 worker") >= 0.95 * m("in-process") ? "pass" : "FAIL"}  ${model}: 1 worker at most 5% slower than in-process`);
  console.log(`${m("2 workers") >= 0.9 * ceilingOf(m) ? "pass" : "FAIL"}  ${model}: 2 workers at least 90% of two independent processes (the higher ceiling)`);
}
console.log("all samples:", JSON.stringify(Object.fromEntries([...results].map(([key, list]) => [key, list.map((value) => Math.round(value))]))));
