/**
 * `launchCluster({ slurm })` on the multi-host test bed, seen from the cell: while the allocation
 * waits for nodes another job holds, the cluster's log says "Slurm job N pending: Resources"; an
 * owner bound to an interface the nodes cannot reach fails the launch, well within its timeout,
 * naming the host, port and interface the worker tried. Neither leaves a job behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { isJsonObject } from "../../lib/json-guards.js";
import { bedSkipReason } from "../helpers/multihost/bed-prerequisites.js";
import { TestBed } from "../helpers/multihost/test-bed.js";

const skip = bedSkipReason();
if (skip !== undefined) console.log(`# Slurm launch tests skipped: ${skip}`);

const driver = fileURLToPath(new URL("../helpers/multihost/slurm-launch-driver.js", import.meta.url));

function parseReport(stdout: string): Record<string, unknown> {
  const report: unknown = JSON.parse(stdout.trim().split("\n")[0] ?? "");
  assert.ok(isJsonObject(report), stdout);
  return report;
}

describe("launchCluster({ slurm }) on the multi-host test bed", { skip }, () => {
  let bed: TestBed;
  before(async () => {
    bed = await TestBed.start({ hosts: 2 });
  });
  after(async () => {
    await bed?.close();
  });

  it("shows the pending reason while another job holds the nodes, then starts once they are free", async () => {
    const blocker = await bed.runSlurm("salloc", ["--no-shell", "--nodes=2", "--exclusive", "--job-name=blocker"]);
    const blockerId = /Granted job allocation (\d+)/.exec(blocker.stderr)?.[1];
    assert.ok(blockerId !== undefined, blocker.stderr);
    try {
      await launchWhileBlocked(blockerId);
    } finally {
      await bed.runSlurm("scancel", [blockerId]);
    }
  });

  async function launchWhileBlocked(blockerId: string): Promise<void> {
    const recordDir = join(bed.stateDir, "allocation-records");
    const owner = bed.spawnOn(bed.head, process.execPath, [driver, JSON.stringify({ slurm: { nodes: 2, recordDir }, backend: "cpu" })], { env: bed.slurmEnv(), stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise((resolve) => owner.once("exit", resolve));
    let stdout = "";
    owner.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    const started = Date.now();
    let log = "";
    let pending: RegExpExecArray | null = null;
    for await (const chunk of owner.stderr!) {
      log += String(chunk);
      pending = /Slurm job (\d+) pending: (.+)/.exec(log);
      if (pending !== null) break;
    }
    const pendingSeenMs = Date.now() - started;
    console.log(`# the log said "${pending?.[0]}" ${pendingSeenMs} ms after launchCluster was called`);
    if (pending === null) await exited;
    assert.ok(pending !== null, `no pending line in the log:\n${log}\n${stdout}`);
    assert.notEqual(pending[1], blockerId);
    assert.equal(pending[2], "Resources");
    const releasedAt = Date.now();
    const cancel = await bed.runSlurm("scancel", [blockerId]);
    assert.equal(cancel.code, 0, cancel.stderr);
    owner.stderr!.resume();
    await exited;
    const report = parseReport(stdout);
    console.log(`# ready ${Date.now() - releasedAt} ms after the blocking job was cancelled`);
    assert.equal(report["ok"], true, stdout);
    assert.ok(Array.isArray(report["rows"]));
    assert.deepEqual(report["rows"].map((row: unknown) => (isJsonObject(row) ? row["host"] : row)), ["host1", "host2"]);
    assert.equal((await bed.runSlurm("squeue", ["-h"])).stdout.trim(), "");
  }

  it("an owner bound to an interface the nodes cannot reach fails the launch naming host, port and interface, within launchTimeoutMs", async () => {
    const launchTimeoutMs = 30_000;
    const options = { slurm: { nodes: 1, recordDir: join(bed.stateDir, "allocation-records") }, networkInterface: "lo", backend: "cpu", launchTimeoutMs };
    const result = await bed.run(bed.head, process.execPath, [driver, JSON.stringify(options)], { env: bed.slurmEnv(), timeoutMs: 60_000 });
    const report = parseReport(result.stdout);
    const elapsedMs = Number(report["elapsedMs"]);
    console.log(`# unreachable owner: launch failed after ${elapsedMs.toFixed(0)} ms (launchTimeoutMs ${launchTimeoutMs})`);
    assert.equal(report["ok"], false, result.stdout);
    assert.match(String(report["error"]), /worker rank 0 \(pid \d+\) exited with code 5/);
    assert.match(String(report["error"]), /cannot reach the owner at 127\.0\.0\.1 port \d+ from host host1 over interface lo \(127\.0\.0\.1\): ECONNREFUSED/);
    assert.ok(elapsedMs < launchTimeoutMs / 2, `failed only after ${elapsedMs} ms`);
    assert.equal((await bed.runSlurm("squeue", ["-h"])).stdout.trim(), "");
  });
});
