/**
 * No orphan worker, ever: a cluster launched from a cell of the real kernel (started by Debian's
 * jupyter_client from the kernelspec `ringbook install` writes) is gone within 2 s after the
 * kernel is restarted, shut down, or killed with SIGKILL.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cliScript, debianPython, killIfAlive, makeTempDir, repoRoot, spawnChild } from "../kernel/helpers.js";

const KERNEL_NAME = "ringbook-cluster-exit";
const driver = join(repoRoot, "test", "cluster", "py", "kernel_workers.py");

describe("workers when their kernel ends", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  before(async () => {
    temp = await makeTempDir("cluster-exit");
    const install = spawnSync(process.execPath, [cliScript, "install", "--prefix", temp.path, "--name", KERNEL_NAME], { encoding: "utf8" });
    assert.equal(install.status, 0, install.stderr);
  });
  after(async () => {
    await temp.remove();
  });

  for (const how of ["restart", "shutdown", "sigkill"]) {
    test(`every worker exits within 2 s when the kernel is ended by ${how}`, async () => {
      const child = spawnChild(debianPython, [driver, how, "2"], {
        JUPYTER_PATH: join(temp.path, "share", "jupyter"),
        JUPYTER_DATA_DIR: join(temp.path, "data"),
        JUPYTER_RUNTIME_DIR: join(temp.path, "runtime"),
        RINGBOOK_HISTORY_FILE: join(temp.path, `history-${how}.jsonl`),
        RINGBOOK_TEST_KERNEL: KERNEL_NAME,
        PYDEVD_DISABLE_FILE_VALIDATION: "1",
      });
      const timer = setTimeout(() => child.process.kill("SIGKILL"), 90_000);
      try {
        const code = await child.exited;
        assert.equal(code, 0, `driver failed (exit ${code}):\n${child.stderr()}`);
        const result = JSON.parse(child.stdout().trim().split("\n").at(-1) ?? "{}") as { pids: number[]; alive: number[]; seconds: number };
        assert.equal(result.pids.length, 2, child.stdout());
        assert.deepEqual(result.alive, [], `workers alive ${result.seconds} s after the kernel ended by ${how}`);
      } finally {
        clearTimeout(timer);
        for (const match of child.stderr().matchAll(/KERNEL_PID (\d+)/g)) killIfAlive(Number(match[1]));
        // Only workers the driver saw alive at the end: other pids may already belong to someone else.
        for (const match of child.stdout().matchAll(/"alive": \[([\d, ]*)\]/g)) for (const pid of match[1]!.split(",").filter(Boolean)) killIfAlive(Number(pid));
      }
    });
  }
});
