/**
 * `ringbook run` closes what a notebook started on every path: a worker cluster the notebook
 * leaves open is closed with the kernel (its processes gone and its socket directory removed by
 * the time `ringbook run` exits) after success, a failing cell, a timeout, and SIGINT or SIGTERM.
 * Worker pids come from the notebook's own output; every process seen below `ringbook run` while
 * it ran must be gone too, and the run's private temporary folder (TMPDIR and XDG_RUNTIME_DIR,
 * where the kernel's and the cluster's socket directories go) must be empty.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess, type ProcessResult } from "../helpers/run-process.js";
import { makeNotebook, outputTexts } from "../helpers/notebooks.js";
import { DescendantWatch } from "../helpers/process-watch.js";
import { isAlive } from "../cluster/helpers.js";

const cli = fileURLToPath(new URL("../../kernel/cli.js", import.meta.url));

/** A cell that launches a cluster and prints its worker pids and socket directory, then leaves it open. */
const launchCell = [
  'import { launchCluster } from "ringbook";',
  "const cluster = await launchCluster({ workers: 2 });",
  'console.log("CLUSTER " + JSON.stringify({ pids: cluster.describe().map((row) => row.pid), dir: cluster.ipcDirectory }));',
].join("\n");

interface LeftOpen {
  pids: number[];
  dir: string;
}

/** The CLUSTER line the launch cell printed, from the executed notebook. */
function clusterOf(notebookJson: string): LeftOpen | undefined {
  let texts: string;
  try {
    texts = outputTexts(notebookJson).flat().join("");
  } catch {
    return undefined; // not written yet
  }
  const match = /^CLUSTER (.*)$/m.exec(texts);
  if (!match) return undefined;
  const parsed: unknown = JSON.parse(match[1]!);
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { pids, dir } = parsed as Record<string, unknown>;
  if (!Array.isArray(pids) || !pids.every((pid) => typeof pid === "number") || typeof dir !== "string") return undefined;
  return { pids, dir };
}

/**
 * Runs `ringbook run` on a notebook of `cells` while watching the processes below it; `whileRunning`
 * gets its pid and the output path. Checks, right after it exited, that nothing it started runs
 * and that its temporary folder is empty; with `launched`, that the CLUSTER line is there.
 */
async function runAndCheckCleanup(
  cells: string[],
  args: string[],
  options: { launched?: boolean; sampleMs?: number; whileRunning?: (pid: number, output: string) => Promise<void> } = {},
): Promise<{ result: ProcessResult; cluster: LeftOpen | undefined; executed: string; workersSeen: number }> {
  const dir = await mkdtemp(join(tmpdir(), "ringbook-cleanup-test-"));
  const scratch = join(dir, "tmp");
  await mkdir(scratch, { mode: 0o700 });
  const watch = new DescendantWatch(options.sampleMs);
  try {
    const input = join(dir, "cluster.ipynb");
    const output = join(dir, "cluster.out.ipynb");
    await writeFile(input, makeNotebook(cells));
    let during: Promise<void> | undefined;
    const result = await runProcess(process.execPath, [cli, "run", input, "-o", output, ...args], {
      timeoutMs: 90_000,
      env: { ...process.env, TMPDIR: scratch, XDG_RUNTIME_DIR: scratch },
      onSpawn: (pid) => {
        watch.watch(pid);
        during = options.whileRunning?.(pid, output);
      },
    });
    await during;
    // Checked at once: the run must not exit before what it started is gone.
    const leftovers = watch.stillRunning();
    const executed = await readFile(output, "utf8");
    assert.deepEqual(leftovers, [], "no process started by the run outlives it");
    assert.deepEqual(await readdir(scratch), [], "the run's temporary folder is empty (socket directories removed)");
    const cluster = clusterOf(executed);
    if (options.launched !== false) {
      assert.ok(cluster, `the launch cell printed its cluster:\n${result.stderr}`);
      const seen = new Set(watch.seen.map((p) => p.pid));
      assert.ok(cluster.pids.every((pid) => seen.has(pid)), `the watch saw the workers ${cluster.pids.join(", ")} below ringbook run`);
      assert.deepEqual(cluster.pids.filter(isAlive), [], "no worker outlives the run");
      assert.equal(existsSync(cluster.dir), false, `the cluster's socket directory ${cluster.dir} was removed`);
    }
    assert.doesNotMatch(result.stderr, /terminate called|Napi::Error/, "the kernel did not abort");
    return { result, cluster, executed, workersSeen: watch.seenMatching(/worker-process(\.bundle)?\.js/).length };
  } finally {
    watch.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

test("a cluster the notebook leaves open is closed when the run succeeds", async () => {
  const { result } = await runAndCheckCleanup([launchCell, "await cluster.run(({ rank }) => rank)"], []);
  assert.equal(result.code, 0, result.stderr);
});

test("a cluster is closed when a later cell fails", async () => {
  const { result } = await runAndCheckCleanup([launchCell, 'throw new Error("broken after launch")'], []);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /cell 2 failed: Error: broken after launch/);
});

test("a cluster whose cell times out while it launches, or right after, is closed with the kernel", async () => {
  // The launch is not awaited and the cell never ends: the timeout comes during the launch or just
  // after it, whichever the machine's speed makes it. A first cell takes the kernel's warm-up (the
  // type checker's start, loading ringbook: over 1.5 s on a loaded machine, which a timeout of
  // 1.5 s once cut before the launch began, and 5 s at a load average of 15), so the launching
  // cell starts its workers at once.
  const warmUp = 'import { launchCluster } from "ringbook";\ntypeof launchCluster';
  const cell = "const launching = launchCluster({ workers: 2 });\nawait new Promise(() => {});";
  const { result, workersSeen } = await runAndCheckCleanup([warmUp, cell], ["--timeout", "15"], { launched: false, sampleMs: 20 });
  assert.equal(result.code, 124, result.stderr);
  assert.match(result.stderr, /cell 2 timed out after 15 s/);
  assert.ok(workersSeen >= 1, `at least one worker was started before the timeout (${workersSeen})`);
});

test("a cluster is closed when a cell busy with the workers times out", async () => {
  // The timeout covers the launching cell too: 10 s was not enough at a load average of 15.
  const { result } = await runAndCheckCleanup([launchCell, "await cluster.run(() => { while (true) {} })"], ["--timeout", "20"]);
  assert.equal(result.code, 124, result.stderr);
  assert.match(result.stderr, /cell 2 timed out after 20 s/);
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  test(`${signal} stops the run, interrupts the cell, writes the notebook and closes the cluster (exit ${code})`, async () => {
    const waitingCell = "await cluster.run(async () => { for (;;) await new Promise((resolve) => setTimeout(resolve, 50)); })";
    const whileRunning = async (pid: number, output: string): Promise<void> => {
      // The executed copy is rewritten after each cell: once it shows the cluster, cell 2 runs.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const text = await readFile(output, "utf8").catch(() => "");
        if (clusterOf(text) !== undefined) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      process.kill(pid, signal);
    };
    const { result, executed } = await runAndCheckCleanup([launchCell, waitingCell, 'console.log("never")'], [], { whileRunning });
    assert.equal(result.code, code, result.stderr);
    assert.match(result.stderr, new RegExp(`the run was stopped \\(${signal}\\) while cell 2 ran`));
    assert.match(executed, /"ename": "RunStopped"/);
    assert.deepEqual(outputTexts(executed)[2], [], "the cell after the stopped one did not run");
  });
}
