/**
 * Stress tool for membership changes: resizes one warm cluster through `--sizes` (default
 * 2,4,1) `--cycles` times, with an allReduce on every size, optionally beside `--busy` busy-loop
 * processes that take the cores from it (races widen under load). Counts resizes, workers that
 * died (the cluster reports them), and libzmq assertions in any worker's stderr, including those
 * of workers that aborted while being removed (the cluster reports no death for them). After a
 * failure it closes the cluster and launches a fresh one, so one run counts every failure.
 *
 * Usage: npm run build && node dist/bench/resize-stress.js [--cycles 100] [--sizes 2,4,1] [--busy 1] [--transport ipc]
 * Prints one JSON line: { cycles, resizes, deaths, assertions, failures, seconds }.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { parseBenchArgs } from "./bench-args.js";
import { launchCluster, type Cluster } from "../lib/index.js";

const usage = "Usage: npm run build && node dist/bench/resize-stress.js [--cycles 100] [--sizes 2,4,1] [--busy 1] [--transport ipc]";

const { values } = parseBenchArgs(usage, {
  options: {
    cycles: { type: "string", default: "100" },
    sizes: { type: "string", default: "2,4,1" },
    busy: { type: "string", default: "0" },
    transport: { type: "string", default: "ipc" },
  },
});
const cycles = Number(values.cycles);
const sizes = values.sizes.split(",").map(Number);
const busy = Number(values.busy);
const transport = values.transport;
if (!Number.isSafeInteger(cycles) || cycles < 1) throw new Error(`--cycles must be a positive integer, got ${JSON.stringify(values.cycles)}`);
if (sizes.some((size) => !Number.isSafeInteger(size) || size < 1)) throw new Error(`--sizes must be positive integers, got ${JSON.stringify(values.sizes)}`);
if (!Number.isSafeInteger(busy) || busy < 0) throw new Error(`--busy must be a non-negative integer, got ${JSON.stringify(values.busy)}`);
if (transport !== "ipc" && transport !== "tcp") throw new Error(`--transport must be "ipc" or "tcp", got ${JSON.stringify(transport)}`);

// Workers' stray stderr (and so their last words) is printed here by the cluster: count the
// assertions as they pass.
let assertions = 0;
const writeStderr = process.stderr.write.bind(process.stderr);
process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
  assertions += (String(chunk).match(/Assertion failed:/g) ?? []).length;
  return (writeStderr as (...args: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stderr.write;

const busyLoops: ChildProcess[] = Array.from({ length: busy }, () => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
const launch = (): Promise<Cluster> => launchCluster({ workers: 1, devices: "cpu", transport });
const started = performance.now();
let resizes = 0;
let deaths = 0;
const failures: string[] = [];
let cluster = await launch();
try {
  for (let cycle = 0; cycle < cycles; cycle++) {
    for (const size of sizes) {
      try {
        await cluster.resize(size);
        resizes++;
        const sums = await cluster.run(async ({ collectives }) => (await collectives.allReduce(new Float32Array(1024).fill(1)))[0]);
        if (sums.some((sum) => sum !== size)) throw new Error(`allReduce on ${size} worker(s) gave ${JSON.stringify(sums)}`);
      } catch (error) {
        const message = (error as Error).message;
        if (/was killed by|exited with/.test(message)) deaths++;
        failures.push(`cycle ${cycle}, size ${size}: ${message.split("\n").slice(0, 3).join(" | ")}`);
        writeStderr(`${failures.at(-1)}\n`);
        await cluster.close();
        cluster = await launch();
      }
    }
  }
} finally {
  await cluster.close();
  for (const loop of busyLoops) loop.kill("SIGKILL");
}
console.log(JSON.stringify({ cycles, sizes, busy, transport, resizes, deaths, assertions, failures: failures.length, seconds: Math.round((performance.now() - started) / 100) / 10 }));
