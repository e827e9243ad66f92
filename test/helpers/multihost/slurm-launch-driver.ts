/**
 * Launches a cluster from a bed's head host with `launchCluster(options)` (options as JSON; the
 * driver adds `log`, which writes each line to stderr at once, so a test can watch it), and
 * reports one JSON line: ready (time, describe rows and placement) or failed (time, message); then
 * closes. Usage: slurm-launch-driver.js '{"slurm":{"nodes":2,"recordDir":"..."},"backend":"cpu"}'
 */
import { isJsonObject } from "../../../lib/json-guards.js";
import { launchCluster, type LaunchClusterOptions } from "../../../lib/index.js";

const options: unknown = JSON.parse(process.argv[2] ?? "");
if (!isJsonObject(options)) throw new Error(`driver options must be a JSON object, got ${process.argv[2]}`);
const started = performance.now();
try {
  // launchCluster parses what it gets; this only hands the test's JSON on.
  const launchOptions: LaunchClusterOptions = { ...options, log: (line) => process.stderr.write(`${line}\n`) };
  const cluster = await launchCluster(launchOptions);
  const readyMs = performance.now() - started;
  const rows = cluster.describe();
  process.stdout.write(`${JSON.stringify({ ok: true, readyMs, rows, placement: rows.placement })}\n`);
  await cluster.close();
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, elapsedMs: performance.now() - started, error: error instanceof Error ? error.message : String(error) })}\n`);
}
