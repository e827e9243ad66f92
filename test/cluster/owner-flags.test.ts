/**
 * Node and V8 flags of the process that owns a cluster (or runs the kernel): worker threads refuse
 * V8 flags in their execArgv, so they are left out there (a thread has them anyway), and workers
 * keep the owner's heap settings. Before, an owner started with `--max-old-space-size` had every
 * worker die at start-up with ERR_WORKER_INVALID_EXEC_ARGV.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, test } from "node:test";

const ownerScript = fileURLToPath(new URL("./fixtures/flagged-owner.js", import.meta.url));

interface Report {
  thread: { heapLimitMb: number; execArgv: string[]; workerProcessFlags: string[] };
  worker: { heapLimitMb: number; gc: string };
  workerProcessFlags: string[];
}

async function runOwner(flags: string[]): Promise<Report> {
  const { stdout } = await promisify(execFile)(process.execPath, [...flags, ownerScript], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as Report;
}

describe("an owner started with V8 flags", () => {
  test("its threads start without the V8 flags in execArgv and still have them; its workers, also those a thread launches, keep the heap size and expose-gc", async () => {
    const report = await runOwner(["--max-old-space-size=700", "--expose-gc"]);
    assert.deepEqual(report.thread.execArgv, ["--no-force-async-hooks-checks"]);
    assert.deepEqual(report.thread.workerProcessFlags, ["--max-old-space-size=700", "--expose-gc", "--heap-growing-percent=200"]);
    assert.ok(report.thread.heapLimitMb > 700 && report.thread.heapLimitMb < 800, `thread heap limit ${report.thread.heapLimitMb} MiB`);
    assert.ok(report.worker.heapLimitMb > 700 && report.worker.heapLimitMb < 800, `worker heap limit ${report.worker.heapLimitMb} MiB`);
    assert.equal(report.worker.gc, "function");
    assert.deepEqual(report.workerProcessFlags, ["--max-old-space-size=700", "--expose-gc", "--heap-growing-percent=200"]);
  });

  test("an owner's own --heap-growing-percent replaces the workers' default", async () => {
    const report = await runOwner(["--heap-growing-percent=150"]);
    assert.deepEqual(report.workerProcessFlags, ["--heap-growing-percent=150"]);
    assert.deepEqual(report.thread.workerProcessFlags, ["--heap-growing-percent=150"]);
  });
});
