/**
 * One fresh process's first cluster: imports ringbook, launches `--workers` workers (tfjs loaded,
 * backend chosen) and closes them; prints `{"importMs":…,"launchMs":…}` on its last line. Run by
 * bench/cluster.js once per repeat, since only a fresh process shows what a new kernel pays.
 *
 * Usage: node dist/bench/first-launch.js [--workers 2]
 */
import { parseBenchArgs } from "./bench-args.js";

const usage = "Usage: node dist/bench/first-launch.js [--workers 2]";

const { values } = parseBenchArgs(usage, { options: { workers: { type: "string", default: "2" } }, strict: true });
const importStarted = performance.now();
const { launchCluster } = await import("../lib/index.js");
const launchStarted = performance.now();
const cluster = await launchCluster({ workers: Number(values.workers) });
const ready = performance.now();
await cluster.close();
console.log(JSON.stringify({ importMs: launchStarted - importStarted, launchMs: ready - launchStarted }));
