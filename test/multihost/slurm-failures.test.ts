/**
 * Failures of a remote worker on the multi-host test bed, through `launchCluster({ slurm })`:
 * frozen (SIGSTOP) or cut off (its host's link down) while both ranks wait in an all-reduce, the
 * all-reduce fails within the heartbeat timeout (plus a margin) with an error naming the rank and
 * its host, never hangs; `restart()` brings a new step and the all-reduce is right again; close()
 * leaves no worker and no job.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { isJsonObject } from "../../lib/json-guards.js";
import { bedSkipReason } from "../helpers/multihost/bed-prerequisites.js";
import { TestBed } from "../helpers/multihost/test-bed.js";

const skip = bedSkipReason();
if (skip !== undefined) console.log(`# Slurm failure tests skipped: ${skip}`);

const driver = fileURLToPath(new URL("../helpers/multihost/slurm-failure-driver.js", import.meta.url));
const heartbeatTimeoutMs = 3000;

describe("a remote worker frozen or cut off, on the multi-host test bed", { skip }, () => {
  let bed: TestBed;
  before(async () => {
    bed = await TestBed.start({ hosts: 2 });
  });
  after(async () => {
    await bed?.close();
  });

  for (const fault of ["stop", "linkdown"] as const) {
    const what = fault === "stop" ? "SIGSTOP of the worker" : "its host's link set down";
    it(`${what}: the waiting all-reduce fails within the heartbeat timeout naming rank 1 and host2; restart() works`, async () => {
      const args = [driver, JSON.stringify({ recordDir: join(bed.stateDir, "allocation-records"), fault, victimNamespace: bed.host("host2").namespace, heartbeatTimeoutMs })];
      const result = await bed.run(bed.head, process.execPath, args, { env: bed.slurmEnv(), timeoutMs: 120_000 });
      assert.equal(result.code, 0, `driver failed:\n${result.stdout}\n${result.stderr}`);
      const [reportLine, closedLine] = result.stdout.trim().split("\n");
      const report: unknown = JSON.parse(reportLine ?? "");
      assert.ok(isJsonObject(report), reportLine);
      const { readyMs, rows, placement, ownPids, sums, error, errorMs, deadState, restartMs, after: afterRestart, victimGoneMs } = report;
      assert.ok(typeof readyMs === "number" && typeof errorMs === "number" && typeof restartMs === "number" && typeof victimGoneMs === "number" && typeof error === "string", reportLine);
      console.log(`# ${fault}: launchCluster({ slurm }) ready after ${readyMs.toFixed(0)} ms; all-reduce failed ${errorMs.toFixed(0)} ms after the fault (heartbeat timeout ${heartbeatTimeoutMs} ms); restart ${restartMs.toFixed(0)} ms; old worker gone ${victimGoneMs.toFixed(0)} ms after the fault`);
      console.log(`# ${fault}: error: ${error.split("\n")[0]}`);
      for (const line of result.stderr.split("\n").filter((text) => /^\[\d+ ms\]|srun/.test(text))) console.log(`# ${fault}: owner's log: ${line}`);
      assert.ok(Array.isArray(rows) && rows.every(isJsonObject), reportLine);
      assert.deepEqual(rows.map((row) => row["host"]), ["host1", "host2"]);
      assert.deepEqual(rows.map((row) => row["pid"]), ownPids, "describe() shows each worker's own pid on its host, not srun's");
      for (const row of rows) assert.match(String(row["slurmStep"]), /^\d+\.\d+$/);
      assert.ok(isJsonObject(placement) && isJsonObject(placement["network"]), JSON.stringify(placement));
      assert.deepEqual(placement["network"], { address: bed.head.address, interfaceName: "veth0", reason: `its subnet ${bed.head.address}/24 holds host1, the first allocated node (${bed.host("host1").address})` });
      assert.match(String(placement["launcher"]), /^Slurm job \d+ on host1, host2$/);
      assert.deepEqual(sums, [[3, 2], [3, 2]]);
      // Killed through Slurm (scancel --signal=KILL of its step), srun reports the task's death
      // (exit code 137); where Slurm cannot reach the node, srun itself is SIGKILLed a second later.
      assert.match(error, /worker rank 1 \(pid \d+\) (was killed by SIGKILL|exited with code 137) on host2 \(killed by the owner: no heartbeat for \d s\)/);
      assert.ok(errorMs > heartbeatTimeoutMs * 0.8, `failed after ${errorMs} ms: before the heartbeat timeout?`);
      assert.ok(errorMs < heartbeatTimeoutMs + 2000, `failed only ${errorMs} ms after the fault`);
      assert.equal(deadState, "dead");
      assert.ok(isJsonObject(afterRestart) && Array.isArray(afterRestart["rows"]), reportLine);
      assert.deepEqual(afterRestart["sums"], [[3, 2], [3, 2]]);
      assert.deepEqual(afterRestart["rows"].map((row: unknown) => (isJsonObject(row) ? [row["host"], row["incarnation"], row["state"]] : row)), [["host1", 0, "ready"], ["host2", 1, "ready"]]);
      assert.ok(victimGoneMs >= 0, "the old worker still ran 15 s after the fault");
      assert.equal(closedLine, '{"closed":true}');
      const jobs = await bed.runSlurm("squeue", ["-h", "-o", "%i %T %j"]);
      assert.equal(jobs.stdout.trim(), "", "close() cancelled the allocation");
    });
  }
});
