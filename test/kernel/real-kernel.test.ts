/**
 * The real ringbook kernel (TypeScript executor in a worker thread) driven by Debian's Jupyter
 * clients: jupyter_kernel_test's conformance suite with TypeScript samples, interrupts of every
 * kind of cell, stop_on_error, stdin, comms, display updates, restarts and 2,000 back-to-back
 * cells. The kernelspec is the one `ringbook install` writes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cliScript, debianPython, killIfAlive, makeTempDir, pythonDriver, repoRoot, spawnChild } from "./helpers.js";

const KERNEL_NAME = "ringbook-real";
const pyDir = join(repoRoot, "test", "kernel", "py");

describe("the real kernel with jupyter_client", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;

  before(async () => {
    temp = await makeTempDir("real-kernel");
    const install = spawnSync(process.execPath, [cliScript, "install", "--prefix", temp.path, "--name", KERNEL_NAME], { encoding: "utf8" });
    assert.equal(install.status, 0, install.stderr);
  });

  after(async () => {
    await temp.remove();
  });

  async function runPython(name: string, args: string[], timeoutMs: number): Promise<string> {
    const driver = spawnChild(debianPython, args, {
      JUPYTER_PATH: join(temp.path, "share", "jupyter"),
      JUPYTER_DATA_DIR: join(temp.path, "data"),
      JUPYTER_RUNTIME_DIR: join(temp.path, "runtime"),
      RINGBOOK_HISTORY_FILE: join(temp.path, `history-${name}.jsonl`),
      RINGBOOK_TEST_KERNEL: KERNEL_NAME,
      PYTHONPATH: pyDir,
      PYDEVD_DISABLE_FILE_VALIDATION: "1",
    });
    const timer = setTimeout(() => driver.kill(), timeoutMs);
    try {
      const code = await driver.exited;
      assert.equal(code, 0, `${name} failed (exit ${code}):\n${driver.stderr()}`);
      return driver.stdout();
    } finally {
      clearTimeout(timer);
      driver.kill();
      for (const match of driver.stderr().matchAll(/KERNEL_PID (\d+)/g)) killIfAlive(Number(match[1]));
    }
  }

  async function scenario(script: string, name: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const stdout = await runPython(name, [script, name, KERNEL_NAME], timeoutMs);
    return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
  }

  test("jupyter_kernel_test's conformance suite passes with TypeScript samples", async () => {
    await runPython("conformance", [join(pyDir, "real_conformance.py")], 180_000);
  });

  test("interrupt stops a busy loop, a pending await and a microtask loop within 1 s, by message and by SIGINT, state intact", async () => {
    const times = await scenario(join(pyDir, "real_driver.py"), "interrupt_kinds");
    for (const [kind, ms] of Object.entries(times)) if (kind.endsWith("_ms")) assert.ok((ms as number) < 1000, `${kind} ${String(ms)} ms`);
  });

  for (const name of ["stop_on_error", "stdin", "comms", "outputs", "restart_executor"]) {
    test(`real kernel: ${name.replaceAll("_", " ")}`, async () => {
      await scenario(join(pyDir, "real_driver.py"), name);
    });
  }

  test("2,000 back-to-back cells lose no reply and no idle status", async () => {
    const result = await scenario(pythonDriver, "flood", 180_000);
    assert.equal(result["cells"], 2000);
  });
});
