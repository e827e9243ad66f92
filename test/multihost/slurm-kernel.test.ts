/**
 * The real ringbook kernel (Debian's jupyter_client, the kernelspec `ringbook install` writes)
 * on a bed's head host launches `launchCluster({ slurm })` in a cell; ended by shutdown, restart
 * or SIGKILL, within 5 s no worker runs on any host and its Slurm job is gone: cancelled by the
 * kernel's shutdown hook (close()), or, after a SIGKILL, by the allocation's reaper.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cliScript, debianPython, killIfAlive, makeTempDir, repoRoot } from "../kernel/helpers.js";
import { bedSkipReason } from "../helpers/multihost/bed-prerequisites.js";
import { jobsOf, workersOnBed } from "../helpers/multihost/bed-workers.js";
import { TestBed } from "../helpers/multihost/test-bed.js";

const skip = bedSkipReason();
if (skip !== undefined) console.log(`# Slurm kernel tests skipped: ${skip}`);

const KERNEL_NAME = "ringbook-slurm-exit";
const driver = join(repoRoot, "test", "cluster", "py", "kernel_workers.py");

describe("a kernel that launched workers on Slurm, ended", { skip }, () => {
  let bed: TestBed;
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  before(async () => {
    temp = await makeTempDir("slurm-kernel");
    const install = spawnSync(process.execPath, [cliScript, "install", "--prefix", temp.path, "--name", KERNEL_NAME], { encoding: "utf8" });
    assert.equal(install.status, 0, install.stderr);
    bed = await TestBed.start({ hosts: 2 });
  });
  after(async () => {
    await bed?.close();
    await temp?.remove();
  });

  for (const how of ["shutdown", "restart", "sigkill"]) {
    it(`by ${how}: within 5 s no worker on any host and the Slurm job gone`, async () => {
      const env = bed.slurmEnv({
        JUPYTER_PATH: join(temp.path, "share", "jupyter"),
        JUPYTER_DATA_DIR: join(temp.path, "data"),
        JUPYTER_RUNTIME_DIR: join(temp.path, "runtime"),
        RINGBOOK_HISTORY_FILE: join(temp.path, `history-${how}.jsonl`),
        RINGBOOK_TEST_KERNEL: KERNEL_NAME,
        RINGBOOK_TEST_LAUNCH_OPTIONS: JSON.stringify({ slurm: { nodes: 2, recordDir: join(bed.stateDir, "allocation-records") }, backend: "cpu" }),
        PYDEVD_DISABLE_FILE_VALIDATION: "1",
      });
      const result = await bed.run(bed.head, debianPython, [driver, how, "5"], { env, timeoutMs: 120_000 });
      try {
        assert.equal(result.code, 0, `driver failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
        const report: unknown = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}");
        assert.ok(typeof report === "object" && report !== null && "pids" in report && "alive" in report && "seconds" in report, result.stdout);
        assert.ok(Array.isArray(report.pids) && report.pids.length === 2, result.stdout);
        console.log(`# kernel ${how}: workers gone after ${String(report.seconds)} s`);
        assert.deepEqual(report.alive, [], `workers alive ${String(report.seconds)} s after the kernel ended by ${how}`);
        assert.deepEqual(workersOnBed(bed), []);
        const started = Date.now();
        let jobs = "";
        do {
          jobs = await jobsOf(bed);
          if (jobs === "") break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        } while (Date.now() - started < 5000);
        console.log(`# kernel ${how}: squeue empty ${Date.now() - started} ms after the driver's report`);
        assert.equal(jobs, "", `the kernel's Slurm job outlived it (${how})`);
      } finally {
        for (const match of result.stderr.matchAll(/KERNEL_PID (\d+)/g)) killIfAlive(Number(match[1]));
      }
    });
  }
});
