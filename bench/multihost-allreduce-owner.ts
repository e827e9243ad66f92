/**
 * The ringbook side of bench/multihost-allreduce.ts, run on a test bed's head host: launches
 * `nodes` x `tasksPerNode` workers as Slurm job steps over tcp, times allReduces of each size
 * (a barrier before each, as the gloo baseline does), and prints one JSON line with every rank's
 * durations; then closes the cluster. With `"mlp": {"steps":150,"warmup":15}` it trains the
 * benchmark MLP instead (bench/training-models.ts, 128 samples per worker per step) and prints its
 * steady-state samples per second.
 * Usage: multihost-allreduce-owner.js '{"nodes":2,"tasksPerNode":1,"ownerAddress":"198.18.0.254","recordDir":"...","sizes":[{"bytes":4194304,"warmups":3,"iterations":10}],"launch":{}}'
 */
import { isJsonObject } from "../lib/json-guards.js";
import { launchCluster, SlurmLauncher } from "../lib/index.js";
import { benchTrainOptions, steadySamplesPerSecond } from "./training-models.js";

interface SizePlan {
  bytes: number;
  warmups: number;
  iterations: number;
}

function parsePlan(value: unknown): SizePlan {
  if (!isJsonObject(value)) throw new Error(`a size plan must be an object, got ${JSON.stringify(value)}`);
  const { bytes, warmups, iterations } = value;
  if (typeof bytes !== "number" || typeof warmups !== "number" || typeof iterations !== "number") throw new Error(`a size plan needs bytes, warmups and iterations: ${JSON.stringify(value)}`);
  return { bytes, warmups, iterations };
}

const options: unknown = JSON.parse(process.argv[2] ?? "");
if (!isJsonObject(options)) throw new Error(`owner options must be a JSON object, got ${process.argv[2]}`);
const { nodes, tasksPerNode, ownerAddress, recordDir, sizes, launch, mlp } = options;
if (typeof nodes !== "number" || typeof tasksPerNode !== "number" || typeof ownerAddress !== "string" || typeof recordDir !== "string" || !Array.isArray(sizes) || !isJsonObject(launch)) {
  throw new Error(`owner options need nodes, tasksPerNode, ownerAddress, recordDir, sizes and launch: ${process.argv[2]}`);
}
const plans = sizes.map(parsePlan);

const launcher = await SlurmLauncher.open({ nodes, tasksPerNode, recordDir });
// `launch` carries the variant's own launchCluster options (e.g. link encryption), checked by launchCluster.
const training = isJsonObject(mlp) && typeof mlp["steps"] === "number" && typeof mlp["warmup"] === "number" ? { steps: mlp["steps"], warmup: mlp["warmup"] } : undefined;
const cluster = await launchCluster({ ...launch, workers: nodes * tasksPerNode, transport: "tcp", networkInterface: ownerAddress, backend: training === undefined ? "cpu" : "wasm", launcher, log: (line) => process.stderr.write(`${line}\n`) });
try {
  if (training !== undefined) {
    const run = cluster.train(benchTrainOptions("mlp", cluster.worldSize, training.steps));
    const measured: Array<{ samples: number; stepMs: number }> = [];
    for await (const step of run.metrics) measured.push({ samples: step.samples, stepMs: step.stepMs });
    await run;
    process.stdout.write(`${JSON.stringify({ samplesPerSecond: steadySamplesPerSecond(measured, training.warmup) })}\n`);
  } else {
    await measureAllReduce();
  }
} finally {
  await cluster.close();
  await launcher.close();
}

async function measureAllReduce(): Promise<void> {
  const ranks = await cluster.run(
    async ({ collectives, worldSize, args }) => {
      const durations: number[][] = [];
      // CPU of the whole worker process (both threads and ZeroMQ's I/O thread) per timed allReduce.
      const cpuMsPerOp: number[] = [];
      for (const plan of args.plans) {
        const input = new Float32Array(plan.bytes / 4).fill(1);
        // One output reused by every call, as training does.
        const into = new Float32Array(plan.bytes / 4);
        const times: number[] = [];
        let cpu: NodeJS.CpuUsage | undefined;
        for (let i = 0; i < plan.warmups + plan.iterations; i++) {
          if (i === plan.warmups) cpu = process.cpuUsage();
          await collectives.barrier();
          const started = performance.now();
          await collectives.allReduce(input, { into });
          if (i >= plan.warmups) times.push(performance.now() - started);
        }
        const used = process.cpuUsage(cpu);
        cpuMsPerOp.push((used.user + used.system) / 1000 / plan.iterations);
        if (into[0] !== worldSize || into[into.length - 1] !== worldSize) throw new Error(`allReduce of ones gave ${into[0]}, expected ${worldSize}`);
        durations.push(times);
      }
      return { hierarchical: collectives.hierarchical, durationsMs: durations, cpuMsPerOp };
    },
    { args: { plans } },
  );
  process.stdout.write(`${JSON.stringify({ ranks })}\n`);
}
