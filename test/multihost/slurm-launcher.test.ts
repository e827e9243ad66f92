/**
 * The Slurm launcher on the multi-host test bed: a cluster owner on the head host allocates nodes
 * and starts its workers as job steps, one per rank, pinned to their nodes; the workers run under
 * their hosts' names, all-reduce across hosts over tcp, and leave nothing behind: no worker
 * process on any host and no Slurm job after close(), and neither within 5 s of a SIGKILLed owner.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { bedSkipReason } from "../helpers/multihost/bed-prerequisites.js";
import { processesOfBed } from "../helpers/multihost/bed-teardown.js";
import { jobsOf, workersOnBed } from "../helpers/multihost/bed-workers.js";
import { TestBed } from "../helpers/multihost/test-bed.js";

const skip = bedSkipReason();
if (skip !== undefined) console.log(`# Slurm launcher tests skipped: ${skip}`);

const driver = fileURLToPath(new URL("../helpers/multihost/slurm-cluster-driver.js", import.meta.url));

/** The driver's command line: a cluster of `workers` on `nodes` nodes, owned from the head host. */
function driverArgs(bed: TestBed, options: { nodes: number; tasksPerNode: number; workers: number; hold?: boolean }): string[] {
  // Allocation records in the bed's own directory: removed with the bed, never in root's home.
  return [driver, JSON.stringify({ ...options, ownerAddress: bed.head.address, recordDir: join(bed.stateDir, "allocation-records"), hold: options.hold ?? false })];
}

interface DriverReport {
  jobId: string;
  hosts: string[];
  sums: number[][];
  readyMs: number;
  /** Allocations of SIGKILLed owners the launcher cancelled first. */
  cancelledOrphans: string[];
  /** The last rank after cluster.restart(): its host, incarnation, and the all-reduce again. */
  restarted: { host: string; incarnation: number; sums: number[][]; restartMs: number };
  /** The last rank's worker SIGKILLed during a barrier, then restarted. */
  afterKill: { killError: string; killErrorMs: number; deadAfterMs: number; host: string; sums: number[][] };
}

function parseSums(value: unknown): number[][] {
  assert.ok(Array.isArray(value), JSON.stringify(value));
  return value.map((row: unknown) => (Array.isArray(row) ? row.map(Number) : []));
}

function parseDriverReport(line: string): DriverReport {
  const value: unknown = JSON.parse(line);
  assert.ok(typeof value === "object" && value !== null && "jobId" in value && "hosts" in value && "sums" in value && "readyMs" in value && "restarted" in value && "cancelledOrphans" in value && "afterKill" in value, line);
  const { jobId, hosts, sums, readyMs, restarted, cancelledOrphans, afterKill } = value;
  assert.ok(typeof jobId === "string" && typeof readyMs === "number" && Array.isArray(hosts) && Array.isArray(cancelledOrphans), line);
  assert.ok(typeof restarted === "object" && restarted !== null && "host" in restarted && "incarnation" in restarted && "sums" in restarted && "restartMs" in restarted, line);
  assert.ok(typeof afterKill === "object" && afterKill !== null && "killError" in afterKill && "killErrorMs" in afterKill && "deadAfterMs" in afterKill && "host" in afterKill && "sums" in afterKill, line);
  return {
    jobId,
    hosts: hosts.map(String),
    sums: parseSums(sums),
    readyMs,
    cancelledOrphans: cancelledOrphans.map(String),
    restarted: { host: String(restarted.host), incarnation: Number(restarted.incarnation), sums: parseSums(restarted.sums), restartMs: Number(restarted.restartMs) },
    afterKill: { killError: String(afterKill.killError), killErrorMs: Number(afterKill.killErrorMs), deadAfterMs: Number(afterKill.deadAfterMs), host: String(afterKill.host), sums: parseSums(afterKill.sums) },
  };
}

const cases = [
  { hosts: 4, tasksPerNode: 1, workers: 4, expectedHosts: ["host1", "host2", "host3", "host4"] },
  { hosts: 2, tasksPerNode: 2, workers: 4, expectedHosts: ["host1", "host1", "host2", "host2"] },
];

describe("Slurm launcher on the multi-host test bed", { skip }, () => {
  for (const { hosts, tasksPerNode, workers, expectedHosts } of cases) {
    describe(`${hosts} hosts x ${tasksPerNode} worker${tasksPerNode > 1 ? "s" : ""}`, () => {
      let bed: TestBed;
      before(async () => {
        bed = await TestBed.start({ hosts, cpusPerHost: 2 });
      });
      after(async () => {
        await bed?.close();
      });

      it("starts one job step per rank on its node; the ranks all-reduce across hosts, also after a rank was restarted as a new step and after its worker was SIGKILLed; close() leaves no worker and no job", async () => {
        const result = await bed.run(bed.head, process.execPath, driverArgs(bed, { nodes: hosts, tasksPerNode, workers }), { env: bed.slurmEnv(), timeoutMs: 120_000 });
        assert.equal(result.code, 0, `driver failed:\n${result.stdout}\n${result.stderr}`);
        const [reportLine, closedLine] = result.stdout.trim().split("\n");
        const report = parseDriverReport(reportLine ?? "");
        console.log(`# ${hosts} hosts x ${tasksPerNode}: launchCluster ready after ${report.readyMs.toFixed(0)} ms (allocation included; tfjs loads on 2 shared cores)`);
        assert.deepEqual(report.hosts, expectedHosts);
        const expectedSum = (workers * (workers + 1)) / 2;
        assert.deepEqual(report.sums, Array.from({ length: workers }, () => [expectedSum, workers]));
        console.log(`# restart of rank ${workers - 1} as a new step: ${report.restarted.restartMs.toFixed(0)} ms`);
        assert.deepEqual(report.restarted, { host: expectedHosts.at(-1), incarnation: 1, sums: report.sums, restartMs: report.restarted.restartMs });
        const { afterKill } = report;
        console.log(`# SIGKILL of rank ${workers - 1}'s worker on ${afterKill.host}: the waiting barrier failed after ${afterKill.killErrorMs.toFixed(0)} ms, the rank counted dead after ${afterKill.deadAfterMs.toFixed(0)} ms`);
        // Every waiting rank names the dead one and the address of its host.
        const victimAddress = `198.18.0.${hosts}`;
        assert.match(afterKill.killError, new RegExp(`lost the connection to rank ${workers - 1} \\(tcp://${victimAddress.replaceAll(".", "\\.")}:\\d+\\)`));
        assert.ok(afterKill.killErrorMs < 1000, `the barrier failed only ${afterKill.killErrorMs} ms after the SIGKILL: ${afterKill.killError}`);
        assert.ok(afterKill.deadAfterMs < 1000, `rank ${workers - 1} counted dead only after ${afterKill.deadAfterMs} ms`);
        assert.deepEqual({ host: afterKill.host, sums: afterKill.sums }, { host: expectedHosts.at(-1), sums: report.sums });
        assert.equal(closedLine, '{"closed":true}');
        assert.deepEqual(workersOnBed(bed), []);
        assert.equal(await jobsOf(bed), "", "the allocation the launcher made is cancelled");
      });
    });
  }

  describe("owner SIGKILLed", () => {
    let bed: TestBed;
    before(async () => {
      bed = await TestBed.start({ hosts: 2 });
    });
    after(async () => {
      await bed?.close();
    });

    /** Starts a holding owner on the head and resolves with its report once its cluster is ready. */
    async function startHoldingOwner(): Promise<{ owner: ChildProcess; exited: Promise<unknown>; report: DriverReport }> {
      const owner = bed.spawnOn(bed.head, process.execPath, driverArgs(bed, { nodes: 2, tasksPerNode: 1, workers: 2, hold: true }), { env: bed.slurmEnv(), stdio: ["ignore", "pipe", "inherit"] });
      const exited = new Promise((resolve) => owner.once("exit", resolve));
      let line = "";
      for await (const chunk of owner.stdout!) {
        line += String(chunk);
        if (line.includes("\n")) break;
      }
      return { owner, exited, report: parseDriverReport(line.trim()) };
    }

    async function waitUntil(condition: () => Promise<boolean> | boolean, boundMs: number): Promise<number> {
      const started = Date.now();
      while (!(await condition()) && Date.now() - started < boundMs) await new Promise((resolve) => setTimeout(resolve, 100));
      return Date.now() - started;
    }

    it("5 s after its owner was SIGKILLed no worker runs on any host and the allocation is cancelled, with no next owner", async () => {
      const { owner, exited, report } = await startHoldingOwner();
      assert.equal(workersOnBed(bed).length, 2);
      assert.match(await jobsOf(bed), new RegExp(`^${report.jobId} RUNNING`));
      owner.kill("SIGKILL");
      await exited;
      const workersGoneMs = await waitUntil(() => workersOnBed(bed).length === 0, 5000);
      const jobGoneMs = await waitUntil(async () => (await jobsOf(bed)) === "", 5000);
      console.log(`# owner SIGKILLed: workers gone after ${workersGoneMs} ms, the allocation cancelled (squeue empty) after ${jobGoneMs} ms, no next owner`);
      assert.deepEqual(workersOnBed(bed), []);
      assert.equal(await jobsOf(bed), "", "the allocation's reaper cancelled it");
      await waitUntil(() => readdirSync(join(bed.stateDir, "allocation-records")).length === 0, 2000);
      assert.deepEqual(readdirSync(join(bed.stateDir, "allocation-records")), [], "and removed its record");
    });

    it("where the owner's reaper was SIGKILLed too, the next launcher cancels the allocation left behind", async () => {
      const { owner, exited, report: orphaned } = await startHoldingOwner();
      const reapers = processesOfBed(bed.id).filter(({ pid }) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("slurm-allocation-reaper.js");
        } catch {
          return false;
        }
      });
      assert.equal(reapers.length, 1, "one reaper per allocation");
      for (const { pid } of reapers) process.kill(pid, "SIGKILL");
      owner.kill("SIGKILL");
      await exited;
      const workersGoneMs = await waitUntil(() => workersOnBed(bed).length === 0, 5000);
      console.log(`# owner and reaper SIGKILLed: workers gone after ${workersGoneMs} ms`);
      assert.deepEqual(workersOnBed(bed), []);
      // Slurm does not notice: the allocation runs on, holding both nodes...
      assert.match(await jobsOf(bed), new RegExp(`^${orphaned.jobId} RUNNING`));

      // ...until the next owner's launcher cancels it before allocating its own.
      const next = await bed.run(bed.head, process.execPath, driverArgs(bed, { nodes: 2, tasksPerNode: 1, workers: 2 }), { env: bed.slurmEnv(), timeoutMs: 120_000 });
      assert.equal(next.code, 0, `driver failed:\n${next.stdout}\n${next.stderr}`);
      const report = parseDriverReport(next.stdout.trim().split("\n")[0] ?? "");
      assert.deepEqual(report.cancelledOrphans, [orphaned.jobId]);
      assert.deepEqual(report.hosts, ["host1", "host2"]);
      assert.equal(await jobsOf(bed), "");
      assert.deepEqual(readdirSync(join(bed.stateDir, "allocation-records")), [], "every record is gone with its allocation");
    });
  });
});
