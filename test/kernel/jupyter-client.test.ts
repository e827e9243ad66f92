/**
 * The kernel server driven by a real Jupyter client: jupyter_client's KernelManager and
 * BlockingKernelClient (Debian's Python) start the fixture kernel from a kernelspec installed with
 * `ringbook install`, one kernel per scenario. The scenarios live in test/kernel/py/driver.py.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cliScript, debianPython, fixtureKernelScript, killIfAlive, makeTempDir, pythonDriver, spawnChild } from "./helpers.js";

const KERNEL_NAME = "ringbook-test";

describe("kernel server with jupyter_client", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;

  before(async () => {
    temp = await makeTempDir("jupyter-client");
    const install = spawnSync(process.execPath, [cliScript, "install", "--prefix", temp.path, "--name", KERNEL_NAME, "--kernel-entry", fixtureKernelScript], {
      encoding: "utf8",
    });
    assert.equal(install.status, 0, install.stderr);
  });

  after(async () => {
    await temp.remove();
  });

  /** Runs a Python script; kills it and every kernel it announced, whatever happens. */
  async function runPython(name: string, args: string[], timeoutMs: number): Promise<string> {
    const driver = spawnChild(debianPython, args, {
      JUPYTER_PATH: join(temp.path, "share", "jupyter"),
      JUPYTER_DATA_DIR: join(temp.path, "data"),
      JUPYTER_RUNTIME_DIR: join(temp.path, "runtime"),
      RINGBOOK_HISTORY_FILE: join(temp.path, `history-${name}.jsonl`),
      RINGBOOK_TEST_KERNEL: KERNEL_NAME,
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

  /** Runs one driver scenario; kills the driver and every kernel it announced, whatever happens. */
  async function runScenario(name: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const stdout = await runPython(name, [pythonDriver, name, KERNEL_NAME], timeoutMs);
    const line = stdout.trim().split("\n").at(-1) ?? "";
    const result: unknown = JSON.parse(line);
    assert.ok(typeof result === "object" && result !== null, `scenario ${name} printed ${line}`);
    return result as Record<string, unknown>;
  }

  test("jupyter_kernel_test's conformance suite passes (all but the pager, which has no payloads)", async () => {
    await runPython("conformance", [join(dirname(pythonDriver), "conformance.py")], 120_000);
  });

  test("kernel_info_reply describes a TypeScript kernel, wrapped in busy/idle", async () => {
    const result = await runScenario("kernel_info");
    assert.equal(result["version"], "6.0.3");
  });

  test("execute publishes execute_input, execute_result and idle under the request, in order", async () => {
    await runScenario("execute");
  });

  test("stop_on_error aborts the execute requests already queued, not other requests", async () => {
    await runScenario("stop_on_error");
  });

  test("input() round-trips through stdin input_request/input_reply; allow_stdin false fails the cell", async () => {
    await runScenario("stdin");
  });

  test("comms: known target echoes, unknown target gets comm_close, comm_info lists open comms", async () => {
    await runScenario("comms");
  });

  test("history tail, range and search; a restarted kernel still has the earlier session", async () => {
    await runScenario("history");
  });

  test("interrupt_request on control stops a pending await while shell is busy; state is kept", async () => {
    const result = await runScenario("interrupt_message");
    assert.ok(Number(result["interrupt_ms"]) < 1000, `interrupt took ${String(result["interrupt_ms"])} ms`);
  });

  test("SIGINT interrupts the running cell", async () => {
    await runScenario("interrupt_signal");
  });

  test("shutdown_request with and without restart replies and exits with code 0", async () => {
    await runScenario("shutdown");
  });

  test("heartbeat echoes, also while a cell runs", async () => {
    await runScenario("heartbeat");
  });

  test("2,000 back-to-back cells: no lost reply or idle status", async () => {
    const result = await runScenario("flood", 120_000);
    assert.equal(result["cells"], 2000);
  });
});
