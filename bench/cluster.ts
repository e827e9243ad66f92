/**
 * Cluster benchmark, one run: the first launch of 2 workers in a fresh process (what every new
 * kernel pays: one process per repeat), launch time to ready for 1, 2 and 4 workers in a warm
 * process (tfjs loaded), `run()` round trips on 2 workers (p50, p99), and, when Debian's
 * python3-ipyparallel is installed, ipyparallel's launch and round trips in the same run as the
 * baseline.
 *
 * Usage: npm run build && node dist/bench/cluster.js [--repeats 3] [--runs 1000] [--no-ipyparallel]
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseBenchArgs } from "./bench-args.js";
import { launchCluster } from "../lib/index.js";
import { formatNumber, median, percentile } from "./stats.js";

const usage = "Usage: npm run build && node dist/bench/cluster.js [--repeats 3] [--runs 1000] [--no-ipyparallel]";

const PYTHON = "/usr/bin/python3";
const baselineScript = fileURLToPath(new URL("../../bench/ipyparallel_baseline.py", import.meta.url));
const firstLaunchScript = fileURLToPath(new URL("./first-launch.js", import.meta.url));

interface IpyparallelResult {
  engines: number;
  ready_ms: number;
  apply_p50_ms: number;
  apply_p99_ms: number;
}

function runBaseline(engines: number, rounds: number): Promise<IpyparallelResult | string> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [baselineScript, String(engines), String(rounds)], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.once("error", (error) => resolve(`ipyparallel baseline could not start: ${error.message}`));
    child.once("exit", (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split("\n").at(-1) ?? "";
      try {
        resolve(JSON.parse(line) as IpyparallelResult);
      } catch {
        resolve(`ipyparallel baseline failed (exit ${code}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
      }
    });
  });
}

/** The first launch of `workers` workers in a fresh Node process, `repeats` processes one after another. */
async function firstLaunchTimes(workers: number, repeats: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [firstLaunchScript, "--workers", String(workers)], { stdio: ["ignore", "pipe", "inherit"] });
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.once("error", reject);
      child.once("exit", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`first-launch.js exited with ${code}: ${stdout}`))));
    });
    const parsed: unknown = JSON.parse(output.trim().split("\n").at(-1) ?? "null");
    const launchMs = typeof parsed === "object" && parsed !== null && "launchMs" in parsed ? parsed.launchMs : undefined;
    if (typeof launchMs !== "number") throw new Error(`first-launch.js printed no launchMs: ${output}`);
    times.push(launchMs);
  }
  return times;
}

async function launchTimes(workers: number, repeats: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    const cluster = await launchCluster({ workers });
    times.push(performance.now() - started);
    await cluster.close();
  }
  return times;
}

async function runRoundTrips(runs: number): Promise<number[]> {
  const cluster = await launchCluster({ workers: 2 });
  try {
    for (let i = 0; i < 50; i++) await cluster.run(({ rank }) => rank);
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await cluster.run(({ rank }) => rank);
      samples.push(performance.now() - started);
    }
    return samples;
  } finally {
    await cluster.close();
  }
}

const { values } = parseBenchArgs(usage, {
  options: { repeats: { type: "string", default: "3" }, runs: { type: "string", default: "1000" }, "no-ipyparallel": { type: "boolean", default: false } },
});
const repeats = Number(values.repeats);
const runs = Number(values.runs);

const firstLaunch = await firstLaunchTimes(2, Math.max(repeats, 5));
const launch = new Map<number, number[]>();
for (const workers of [1, 2, 4]) launch.set(workers, await launchTimes(workers, repeats));
const roundTrips = await runRoundTrips(runs);
const baseline = values["no-ipyparallel"] ? "skipped (--no-ipyparallel)" : await runBaseline(2, Math.min(runs, 300));

const rows: Array<[string, string, string]> = [];
rows.push([`first launch in a fresh process → ready, 2 workers, median of ${firstLaunch.length} (ms)`, formatNumber(median(firstLaunch)), typeof baseline !== "string" ? formatNumber(baseline.ready_ms) : ""]);
rows.push([`first launch in a fresh process → ready, 2 workers, slowest of ${firstLaunch.length} (ms)`, formatNumber(Math.max(...firstLaunch)), ""]);
for (const [workers, times] of launch) rows.push([`launch → ready, ${workers} worker(s), median of ${repeats} (ms)`, formatNumber(median(times)), workers === 2 && typeof baseline !== "string" ? formatNumber(baseline.ready_ms) : ""]);
rows.push(["run() round trip, 2 workers, p50 (ms)", formatNumber(median(roundTrips)), typeof baseline !== "string" ? formatNumber(baseline.apply_p50_ms) : ""]);
rows.push(["run() round trip, 2 workers, p99 (ms)", formatNumber(percentile(roundTrips, 99)), typeof baseline !== "string" ? formatNumber(baseline.apply_p99_ms) : ""]);

const width = Math.max(...rows.map(([name]) => name.length));
console.log(`${"metric".padEnd(width)}  ${"ringbook".padStart(10)}  ${"ipyparallel".padStart(12)}  ratio`);
for (const [name, ours, theirs] of rows) {
  const ratio = theirs === "" ? "" : `${formatNumber(Number(theirs) / Number(ours))}x`;
  console.log(`${name.padEnd(width)}  ${ours.padStart(10)}  ${theirs.padStart(12)}  ${ratio}`);
}
if (typeof baseline === "string") console.log(`ipyparallel: ${baseline}`);
console.log("ratio: ipyparallel / ringbook (higher is better for ringbook)");
console.log(`${Math.max(...firstLaunch) <= 1000 ? "pass" : "FAIL"}  first launch of 2 workers in a fresh process ≤ 1.0 s, every repeat: slowest ${formatNumber(Math.max(...firstLaunch))} ms`);
const launch2 = median(launch.get(2) ?? []);
console.log(`${launch2 <= 1500 ? "pass" : "FAIL"}  launch of 2 workers with tfjs ≤ 1.5 s: ${formatNumber(launch2)} ms`);
console.log(`${median(roundTrips) <= 2 ? "pass" : "FAIL"}  run() p50 ≤ 2 ms: ${formatNumber(median(roundTrips))} ms`);
