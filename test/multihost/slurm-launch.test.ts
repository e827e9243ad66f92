/**
 * `launchCluster({ slurm })` on the multi-host test bed, seen from the cell: while the allocation
 * waits for nodes another job holds, the cluster's log says "Slurm job N pending: Resources"; an
 * owner bound to an interface the nodes cannot reach fails the launch, well within its timeout,
 * naming the host, port and interface the worker tried. Neither leaves a job behind.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { isJsonObject } from "../../lib/json-guards.js";
import { bedSkipReason } from "../helpers/multihost/bed-prerequisites.js";
import type { ProcessResult } from "../helpers/run-process.js";
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

  it("uses an allocation it is given (jobId) without cancelling it: all its nodes by default, or fewer workers", async () => {
    const given = await bed.runSlurm("salloc", ["--no-shell", "--nodes=2", "--job-name=given"]);
    const jobId = /Granted job allocation (\d+)/.exec(given.stderr)?.[1];
    assert.ok(jobId !== undefined, given.stderr);
    try {
      for (const [options, hosts] of [[{ slurm: { jobId } }, ["host1", "host2"]], [{ slurm: { jobId }, workers: 1 }, ["host1"]]] as const) {
        const result: ProcessResult = await bed.run(bed.head, process.execPath, [driver, JSON.stringify({ ...options, backend: "cpu" })], { env: bed.slurmEnv(), timeoutMs: 60_000 });
        const report: Record<string, unknown> = parseReport(result.stdout);
        assert.equal(report["ok"], true, `${result.stdout}\n${result.stderr}`);
        assert.ok(Array.isArray(report["rows"]));
        assert.deepEqual(report["rows"].map((row: unknown) => (isJsonObject(row) ? [row["host"], String(row["slurmStep"]).split(".")[0]] : row)), hosts.map((host): [string, string] => [host, jobId]));
        assert.match((await bed.runSlurm("squeue", ["-h", "-o", "%i %T %j"])).stdout, new RegExp(`^${jobId} RUNNING given$`, "m"), "close() leaves an allocation it did not make");
      }
    } finally {
      await bed.runSlurm("scancel", [jobId]);
    }
    const tooMany = await bed.run(bed.head, process.execPath, [driver, JSON.stringify({ slurm: { jobId: "999999" }, backend: "cpu", workers: 1 })], { env: bed.slurmEnv(), timeoutMs: 60_000 });
    assert.match(String(parseReport(tooMany.stdout)["error"]), /cannot use Slurm job 999999 \(jobId\): squeue -h -j 999999 -o %N failed \(1\): slurm_load_jobs error: Invalid job id specified/);
  });

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

  it("a rank that cannot reach a peer fails the launch naming the peer, its host, port and the interface tried", async () => {
    // host1 loses its route to host2 only: both still reach the head (the owner and Slurm).
    const route = ["-n", bed.host("host1").namespace, "route", "add", "unreachable", `${bed.host("host2").address}/32`];
    const added = spawnSync("ip", route, { encoding: "utf8" });
    assert.equal(added.status, 0, added.stderr);
    try {
      const options = { slurm: { nodes: 2, recordDir: join(bed.stateDir, "allocation-records") }, backend: "cpu", launchTimeoutMs: 30_000 };
      const result = await bed.run(bed.head, process.execPath, [driver, JSON.stringify(options)], { env: bed.slurmEnv(), timeoutMs: 60_000 });
      const report = parseReport(result.stdout);
      const elapsedMs = Number(report["elapsedMs"]);
      console.log(`# unreachable peer: launch failed after ${elapsedMs.toFixed(0)} ms: ${String(report["error"]).split("\n")[0]}`);
      assert.equal(report["ok"], false, result.stdout);
      assert.match(String(report["error"]), /cannot reach peer rank 1 at 198\.18\.0\.2 port \d+ from host host1 over interface veth0 \(198\.18\.0\.1\): EHOSTUNREACH/);
      assert.ok(elapsedMs < 20_000, `failed only after ${elapsedMs} ms`);
    } finally {
      spawnSync("ip", route.map((arg) => (arg === "add" ? "del" : arg)));
    }
    assert.equal((await bed.runSlurm("squeue", ["-h"])).stdout.trim(), "");
  });
});
