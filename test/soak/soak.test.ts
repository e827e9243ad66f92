/**
 * The soak, short (bench/soak.ts runs it for as long as asked): after a warm-up, what a session
 * holds stays flat over its iterations. Bounds: kernel RSS grows by at most 40 MiB and each
 * worker's by at most 60 MiB from the first measured iteration to the last (V8 heaps settle in
 * steps); open file descriptors of the kernel and of each worker grow by at most 4; exactly one
 * socket directory at every sample; tensors on every worker equal between runs; the training
 * speed of the last iterations at least half of the first ones'.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runSoak, type SoakSample } from "./soak-session.js";

const warmup = 3;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

test("one kernel and one warm cluster through many iterations of a researcher's work hold flat memory, descriptors, directories and tensors", async () => {
  const samples = await runSoak({ iterations: 24, restartEvery: 8 });
  assert.equal(samples.length, 24);
  const measured = samples.slice(warmup);
  const first = measured[0] as SoakSample;
  const last = measured.at(-1) as SoakSample;
  const report = JSON.stringify({ first, last }, null, 1);
  assert.ok(last.kernelRssMiB - first.kernelRssMiB <= 40, `kernel RSS ${first.kernelRssMiB} → ${last.kernelRssMiB} MiB\n${report}`);
  for (const [rank, pid] of last.workerPids.entries()) {
    // A restarted worker is a new process: compare it with its own first sample.
    const base = measured.find((sample) => sample.workerPids[rank] === pid) ?? first;
    const growth = (last.workerRssMiB[rank] ?? 0) - (base.workerRssMiB[rank] ?? 0);
    assert.ok(growth <= 60, `worker ${rank} RSS ${base.workerRssMiB[rank]} → ${last.workerRssMiB[rank]} MiB\n${report}`);
    const fdGrowth = (last.workerFds[rank] ?? 0) - (base.workerFds[rank] ?? 0);
    assert.ok(fdGrowth <= 4, `worker ${rank} fds ${base.workerFds[rank]} → ${last.workerFds[rank]}`);
  }
  assert.ok(last.kernelFds - first.kernelFds <= 4, `kernel fds ${first.kernelFds} → ${last.kernelFds}`);
  assert.deepEqual(new Set(samples.map((sample) => sample.socketDirs)), new Set([1]), "one socket directory throughout");
  const tensors = new Set(measured.map((sample) => sample.workerTensors.join(",")));
  assert.equal(tensors.size, 1, `tensors on the workers between runs: ${[...tensors].join(" | ")}`);
  const early = median(measured.slice(0, 5).map((sample) => sample.samplesPerSecond));
  const late = median(measured.slice(-5).map((sample) => sample.samplesPerSecond));
  assert.ok(late >= early / 2, `training speed ${early} → ${late} samples/s`);
});
