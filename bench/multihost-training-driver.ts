/**
 * One measurement of bench/multihost-training.ts, run on a test bed's head host (the login node):
 * allocates `nodes` Slurm nodes, launches one worker per node over tcp (the default backend: the
 * fastest each worker can load), trains the benchmark MNIST MLP for `steps` steps, closes, and
 * prints one JSON line: the time to the allocation, to the cluster's ready (allocation included),
 * and the steady-state samples/s after `warmup` steps.
 * Usage: multihost-training-driver.js '{"nodes":4,"ownerAddress":"198.18.0.254","recordDir":"...","steps":120,"warmup":20}'
 */
import { isJsonObject } from "../lib/json-guards.js";
import { launchCluster, SlurmLauncher } from "../lib/index.js";
import { benchTrainOptions, steadySamplesPerSecond } from "./training-models.js";

const options: unknown = JSON.parse(process.argv[2] ?? "");
if (!isJsonObject(options)) throw new Error(`driver options must be a JSON object, got ${process.argv[2]}`);
const { nodes, ownerAddress, recordDir, steps, warmup } = options;
if (typeof nodes !== "number" || typeof ownerAddress !== "string" || typeof recordDir !== "string" || typeof steps !== "number" || typeof warmup !== "number") {
  throw new Error(`driver options need nodes, ownerAddress, recordDir, steps and warmup: ${process.argv[2]}`);
}

const started = performance.now();
const launcher = await SlurmLauncher.open({ nodes, tasksPerNode: 1, recordDir });
const allocatedMs = performance.now() - started;
const cluster = await launchCluster({ workers: nodes, transport: "tcp", networkInterface: ownerAddress, launcher });
try {
  const readyMs = performance.now() - started;
  const run = cluster.train(benchTrainOptions("mlp", nodes, steps));
  const measured: Array<{ samples: number; stepMs: number }> = [];
  for await (const step of run.metrics) measured.push({ samples: step.samples, stepMs: step.stepMs });
  const result = await run;
  const report = { nodes, allocatedMs, readyMs, samplesPerSecond: steadySamplesPerSecond(measured, warmup), backend: result.backend, hosts: cluster.describe().map((row) => row.host) };
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  await cluster.close();
}
