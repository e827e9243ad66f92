/**
 * Multi-host training on the test bed (test/helpers/multihost/: hosts as network namespaces with
 * 1 Gbit/s links, one slurmd each): the benchmark MNIST MLP (784-256-256-10, Adam, batch 128 per
 * worker) on 4 hosts x 1 worker against 1 host x 1 worker, each launched from the head host as
 * Slurm job steps (bench/multihost-training-driver.ts), and the time from asking Slurm for the
 * nodes to a ready cluster. Configurations alternate, the order flipped every repeat; medians.
 * Every host shares this machine's cores: 4 hosts cannot train 4x faster than 1 here.
 *
 * Usage (root): npm run build && node dist/bench/multihost-training.js [--repeats 3] [--steps 120] [--warmup 20]
 */
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBenchArgs } from "./bench-args.js";
import { isJsonObject } from "../lib/json-guards.js";
import { bedSkipReason } from "../test/helpers/multihost/bed-prerequisites.js";
import { TestBed } from "../test/helpers/multihost/test-bed.js";
import { formatNumber, median } from "./stats.js";

const usage = "Usage (root): npm run build && node dist/bench/multihost-training.js [--repeats 3] [--steps 120] [--warmup 20]";

const { values } = parseBenchArgs(usage, { options: { repeats: { type: "string", default: "3" }, steps: { type: "string", default: "120" }, warmup: { type: "string", default: "20" } } });
const repeats = Number(values.repeats);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
for (const [name, value] of [["repeats", repeats], ["steps", steps], ["warmup", warmup]] as const) {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
}
if (warmup >= steps) throw new Error(`--warmup (${warmup}) must be below --steps (${steps})`);

const skip = bedSkipReason();
if (skip !== undefined) {
  console.error(`multihost-training: cannot run: ${skip}`);
  process.exit(2);
}

const driver = fileURLToPath(new URL("./multihost-training-driver.js", import.meta.url));
interface Measurement {
  allocatedMs: number;
  readyMs: number;
  samplesPerSecond: number;
  backend: string;
}

function parseMeasurement(line: string): Measurement {
  const value: unknown = JSON.parse(line);
  if (!isJsonObject(value)) throw new Error(`not a measurement: ${line}`);
  const { allocatedMs, readyMs, samplesPerSecond, backend } = value;
  if (typeof allocatedMs !== "number" || typeof readyMs !== "number" || typeof samplesPerSecond !== "number" || typeof backend !== "string") throw new Error(`not a measurement: ${line}`);
  return { allocatedMs, readyMs, samplesPerSecond, backend };
}

const nodeCounts = [1, 4];
const bed = await TestBed.start({ hosts: 4, cpusPerHost: 2 });
const results = new Map<number, Measurement[]>(nodeCounts.map((nodes) => [nodes, []]));
const loads: number[] = [];
try {
  for (let repeat = 0; repeat < repeats; repeat++) {
    const order = repeat % 2 === 0 ? nodeCounts : [...nodeCounts].reverse();
    for (const nodes of order) {
      loads.push(loadavg()[0]!);
      const args = [driver, JSON.stringify({ nodes, ownerAddress: bed.head.address, recordDir: join(bed.stateDir, "allocation-records"), steps, warmup })];
      const outcome = await bed.run(bed.head, process.execPath, args, { env: bed.slurmEnv(), timeoutMs: 600_000 });
      if (outcome.code !== 0) throw new Error(`driver (${nodes} nodes) failed:\n${outcome.stdout}\n${outcome.stderr}`);
      const measurement = parseMeasurement(outcome.stdout.trim().split("\n").at(-1) ?? "");
      results.get(nodes)!.push(measurement);
      console.error(`repeat ${repeat + 1}/${repeats}: ${nodes} host(s): ready ${measurement.readyMs.toFixed(0)} ms (allocation ${measurement.allocatedMs.toFixed(0)} ms), ${measurement.samplesPerSecond.toFixed(0)} samples/s on ${measurement.backend}`);
    }
  }
} finally {
  await bed.close();
}

const one = median(results.get(1)!.map((m) => m.samplesPerSecond));
console.log(`multi-host MNIST MLP (784-256-256-10, Adam, batch 128 per worker), one worker per host, Slurm job steps over tcp; links 1 Gbit/s`);
console.log(`${cpus().length} cores shared by every host; 1-minute load average at each run's start: ${loads.map((load) => load.toFixed(1)).join(", ")}; medians of ${repeats} interleaved repeats (${steps} steps, first ${warmup} not counted)`);
console.log(`hosts  backend     allocation ms  ready ms (allocation included)  samples/s  vs 1 host`);
for (const nodes of nodeCounts) {
  const rows = results.get(nodes)!;
  const rate = median(rows.map((m) => m.samplesPerSecond));
  console.log(
    `${String(nodes).padEnd(6)} ${(rows[0]?.backend ?? "").padEnd(11)} ${formatNumber(median(rows.map((m) => m.allocatedMs))).padStart(13)}  ${formatNumber(median(rows.map((m) => m.readyMs))).padStart(30)}  ${formatNumber(rate).padStart(9)}  ${(rate / one).toFixed(2)}x`,
  );
}
console.log(`ready ms, every repeat: ${nodeCounts.map((nodes) => `${nodes} host(s) ${results.get(nodes)!.map((m) => m.readyMs.toFixed(0)).join("/")}`).join("; ")}`);
