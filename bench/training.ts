/**
 * Training throughput against PyTorch, one run, for the benchmark MLP (784-256-256-10, batch 128
 * per process) and CNN (conv32-pool-conv64-pool-dense128-dense10, batch 64 per process), Adam:
 * - ringbook in-process (single-process training, no cluster, in a Node process of its own), on 1
 *   worker and on 2 workers (the same batch per worker), on wasm-blas (wasm with the native
 *   OpenBLAS kernels) and plain wasm;
 * - PyTorch 1.13 (Debian's, /usr/bin/python3) on one thread, and DDP over gloo with 2 processes of
 *   one thread each (bench/pytorch_baseline.py; OPENBLAS_NUM_THREADS=1);
 * - with --ceilings, also what two processes can do on this machine at all (on the first
 *   backend): two separate Node processes training alone, the 2-worker cluster's own processes
 *   training alone, and the same meeting in a barrier every step (the cost of synchronous steps).
 * Steady-state throughput (samples / summed step time after a warm-up), medians over repeats that
 * interleave every configuration, so that machine noise (other work on a shared machine) hits all
 * of them; ratios against PyTorch are of medians from the same run.
 *
 * Usage: npm run build && node dist/bench/training.js [--models mlp,cnn] [--repeats 5]
 *          [--backends wasm-blas,wasm] [--ceilings]
 */
import { spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseBenchArgs } from "./bench-args.js";
import { loadBlasAddon } from "../lib/backend/native/blas-addon.js";
import { launchCluster, type Cluster } from "../lib/index.js";
import { pytorchSamplesPerSecond, pytorchUnavailable } from "./pytorch-baseline.js";
import { formatNumber, median } from "./stats.js";
import type { BenchBackend } from "./training-alone.js";
import { benchTrainOptions, steadySamplesPerSecond, type BenchModel } from "./training-models.js";

const usage = "Usage: npm run build && node dist/bench/training.js [--models mlp,cnn] [--repeats 5]\n         [--backends wasm-blas,wasm] [--ceilings]";

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
 * `lockstep`: the ranks still meet once per step, in a barrier, without exchanging gradients.
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

function aloneInChild(model: BenchModel, backend: BenchBackend): Promise<number> {
  const { steps, warmup } = stepsOf[model];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [aloneScript, model, String(steps), String(warmup), backend], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      const parsed: unknown = (() => {
        try {
          return JSON.parse(out.trim().split("\n").at(-1) ?? "");
        } catch {
          return undefined;
        }
      })();
      const rate = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>)["samplesPerSecond"] : undefined;
      if (typeof rate === "number") resolve(rate);
      else reject(new Error(`training-alone ${model} ${backend} exited with ${code}: ${out}`));
    });
  });
}

const { values } = parseBenchArgs(usage, {
  options: {
    models: { type: "string", default: "mlp,cnn" },
    repeats: { type: "string", default: "5" },
    backends: { type: "string" },
    ceilings: { type: "boolean", default: false },
  },
});
const models = values.models.split(",").map((name): BenchModel => {
  if (name !== "mlp" && name !== "cnn") throw new Error(`--models takes mlp and cnn, got ${JSON.stringify(name)}`);
  return name;
});
const repeats = Number(values.repeats);
if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be a positive integer, got ${JSON.stringify(values.repeats)}`);
const blas = loadBlasAddon();
const backends = (values.backends ?? (blas.loaded ? "wasm-blas,wasm" : "wasm")).split(",").map((name): BenchBackend => {
  if (name !== "wasm-blas" && name !== "wasm") throw new Error(`--backends takes wasm-blas and wasm, got ${JSON.stringify(name)}`);
  return name;
});
if (!blas.loaded) console.log(`wasm-blas is not measured: ${blas.reason}`);
const torchMissing = await pytorchUnavailable();
if (torchMissing !== undefined) console.log(`PyTorch is not measured: ${torchMissing}`);

/** The machine's 1-minute load average at each repeat: the benchmark's own processes add 1-2. */
const loads: number[] = [];
const clusters = new Map<string, Cluster>();
const results = new Map<string, number[]>();
const record = (key: string, value: number): void => {
  results.set(key, [...(results.get(key) ?? []), value]);
};
const m = (model: BenchModel, config: string): number => median(results.get(`${model}:${config}`) ?? []);
try {
  for (const backend of backends) {
    for (const workers of [1, 2]) clusters.set(`${backend}:${workers}`, await launchCluster({ workers, backend }));
  }
  const cluster = (backend: BenchBackend, workers: number): Cluster => clusters.get(`${backend}:${workers}`)!;
  for (const model of models) {
    const { steps, warmup } = stepsOf[model];
    // Warm up every cluster once (module loading, wasm compilation, BLAS buffers).
    for (const backend of backends) {
      await trainOnCluster(cluster(backend, 1), model);
      await trainOnCluster(cluster(backend, 2), model);
    }
    for (let i = 0; i < repeats; i++) {
      loads.push(loadavg()[0] ?? Number.NaN);
      for (const backend of backends) {
        // In a child process: training here would hold this process's event loop for seconds,
        // and the clusters' heartbeats (answered here) would time out under load.
        record(`${model}:${backend} in-process`, await aloneInChild(model, backend));
        record(`${model}:${backend} 1 worker`, await trainOnCluster(cluster(backend, 1), model));
        record(`${model}:${backend} 2 workers`, await trainOnCluster(cluster(backend, 2), model));
      }
      if (torchMissing === undefined) {
        record(`${model}:pytorch 1 thread`, await pytorchSamplesPerSecond("single", model, steps, warmup));
        record(`${model}:pytorch ddp 2x1`, await pytorchSamplesPerSecond("ddp", model, steps, warmup));
      }
      if (values.ceilings) {
        const [backend] = backends as [BenchBackend];
        const [a, b] = await Promise.all([aloneInChild(model, backend), aloneInChild(model, backend)]);
        record(`${model}:2 processes`, a + b);
        record(`${model}:2 workers alone`, await ceilingInCluster(cluster(backend, 2), model));
        record(`${model}:2 in lockstep`, await ceilingInCluster(cluster(backend, 2), model, true));
      }
    }
  }
} finally {
  for (const cluster of clusters.values()) await cluster.close();
}

const cell = (value: number, width: number): string => formatNumber(value).padStart(width);
const ratio = (value: number, baseline: number): string => (Number.isFinite(value / baseline) ? `${formatNumber(value / baseline)}x` : "-");
console.log(`\ntraining throughput, samples/s: medians of ${repeats} interleaved repeats, steady state after warm-up; Adam, batch 128 (MLP) / 64 (CNN) per process`);
console.log(`${cpus().length} cores; 1-minute load average at the repeats' starts: ${loads.map((load) => load.toFixed(1)).join(", ")} (the machine is shared: ratios are of medians from the same run)`);
console.log(`${"model".padEnd(6)}${"backend".padEnd(12)}${"in-process".padStart(11)}${"1 worker".padStart(10)}${"2 workers".padStart(11)}   ${"1w/torch1".padStart(9)}${"2w/ddp".padStart(8)}${"1w/in-proc".padStart(11)}`);
for (const model of models) {
  const torch1 = m(model, "pytorch 1 thread");
  const ddp = m(model, "pytorch ddp 2x1");
  for (const backend of backends) {
    const [alone, one, two] = ["in-process", "1 worker", "2 workers"].map((config) => m(model, `${backend} ${config}`)) as [number, number, number];
    console.log(`${model.padEnd(6)}${backend.padEnd(12)}${cell(alone, 11)}${cell(one, 10)}${cell(two, 11)}   ${ratio(one, torch1).padStart(9)}${ratio(two, ddp).padStart(8)}${ratio(one, alone).padStart(11)}`);
  }
  if (torchMissing === undefined) console.log(`${model.padEnd(6)}${"pytorch".padEnd(12)}${cell(torch1, 11)}${"(1 thread)".padStart(10)}${cell(ddp, 11)}   (DDP gloo, 2 processes x 1 thread)`);
}
if (values.ceilings) {
  console.log(`\nceilings on ${backends[0]}: two independent compute-only processes (the higher of two ways), and the same in lockstep`);
  for (const model of models) {
    const ceiling = Math.max(m(model, "2 processes"), m(model, "2 workers alone"));
    const two = m(model, `${backends[0]} 2 workers`);
    console.log(`${model.padEnd(6)} 2 processes ${formatNumber(m(model, "2 processes"))}, 2 workers alone ${formatNumber(m(model, "2 workers alone"))}, 2 in lockstep ${formatNumber(m(model, "2 in lockstep"))}; 2 workers/ceiling ${ratio(two, ceiling)}, lockstep/ceiling ${ratio(m(model, "2 in lockstep"), ceiling)}`);
  }
}
console.log("");
const goal = (ok: boolean, text: string): void => console.log(`${ok ? "pass" : "FAIL"}  ${text}`);
for (const model of models) {
  for (const backend of backends) goal(m(model, `${backend} 1 worker`) >= 0.95 * m(model, `${backend} in-process`), `${model} ${backend}: 1 worker at most 5% slower than in-process`);
}
if (torchMissing === undefined && backends.includes("wasm-blas")) {
  const needs: Array<[BenchModel, string, string, number, string]> = [
    ["mlp", "wasm-blas 1 worker", "pytorch 1 thread", 1.0, "1 worker at least 1.0x PyTorch on one thread"],
    ["cnn", "wasm-blas 1 worker", "pytorch 1 thread", 0.9, "1 worker at least 0.9x PyTorch on one thread"],
    ["mlp", "wasm-blas 2 workers", "pytorch ddp 2x1", 1.0, "2 workers at least 1.0x PyTorch DDP (2 processes x 1 thread)"],
  ];
  for (const [model, ours, theirs, factor, text] of needs) {
    if (models.includes(model)) goal(m(model, ours) >= factor * m(model, theirs), `${model} wasm-blas: ${text} (${ratio(m(model, ours), m(model, theirs))})`);
  }
}
console.log("all samples:", JSON.stringify(Object.fromEntries([...results].map(([key, list]) => [key, list.map((value) => Math.round(value))]))));
