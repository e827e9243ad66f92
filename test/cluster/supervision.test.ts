/**
 * Supervision with real processes: interrupts of every kind of busy work keep the workers and
 * their state; a worker killed with SIGKILL fails the operation waiting on it within 1 s with an
 * error naming the rank, the signal and its last stderr lines, and the cluster is usable after a
 * restart; when the owner is killed with SIGKILL, every worker exits within 2 s.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { ClusterTaskError, launchCluster, TaskInterruptedError, WorkerDiedError, type Cluster } from "../../lib/index.js";
import { killIfAlive, timed, waitForExit } from "./helpers.js";

const ownerScript = fileURLToPath(new URL("./fixtures/owner-process.js", import.meta.url));

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("cluster supervision", () => {
  let cluster: Cluster;
  let kept = 7;
  before(async () => {
    cluster = await launchCluster({ workers: 2 });
    await cluster.runCell(`const kept = { value: ${kept} };`);
  });
  after(async () => {
    await cluster.close();
  });

  const busyCells: Array<[string, string]> = [
    ["a synchronous busy loop", "while (true) {}"],
    ["an await that never resolves", "await new Promise(() => {})"],
    ["a microtask loop", "while (true) { await Promise.resolve(); }"],
    ["a busy loop inside a timer callback", "setTimeout(() => { for (;;) {} }, 1);\nawait new Promise(() => {})"],
  ];
  for (const [kind, code] of busyCells) {
    it(`interrupts ${kind} on every worker within 1 s, keeping the workers and their state`, async () => {
      const pids = cluster.describe().map((row) => row.pid);
      const running = cluster.runCell(code);
      await sleep(200);
      assert.deepEqual(
        cluster.describe().map((row) => row.state),
        ["busy", "busy"],
      );
      cluster.interrupt();
      const { ms, error } = await timed(running);
      assert.ok(error instanceof TaskInterruptedError, `expected an interrupt, got ${String(error)}`);
      assert.ok(ms < 1000, `interrupt took ${ms} ms`);
      kept++;
      assert.deepEqual(await cluster.runCell("++kept.value"), [kept, kept]);
      assert.deepEqual(
        cluster.describe().map((row) => row.pid),
        pids,
        "the same processes",
      );
    });
  }

  it("interrupts through an AbortSignal given to run", async () => {
    const controller = new AbortController();
    const running = cluster.run(() => new Promise(() => {}), { signal: controller.signal });
    await sleep(100);
    controller.abort(new Error("stopped by the test"));
    await assert.rejects(running, /stopped by the test/);
    assert.deepEqual(await cluster.run(({ rank }) => rank), [0, 1]);
  });

  it("fails a task within 1 s when a worker is killed with SIGKILL, naming rank, signal and last stderr lines", async () => {
    const running = cluster.run(({ rank }) => {
      if (rank === 1) console.error("last words before the crash");
      return new Promise(() => {});
    });
    await sleep(300);
    const victim = cluster.describe()[1]!.pid!;
    process.kill(victim, "SIGKILL");
    const { ms, error } = await timed(running);
    assert.ok(ms < 1000, `the failure took ${ms} ms`);
    assert.ok(error instanceof ClusterTaskError, String(error));
    const died = error.failures.find((failure) => failure.rank === 1)?.error;
    assert.ok(died instanceof WorkerDiedError);
    assert.equal(died.signal, "SIGKILL");
    assert.match(died.message, new RegExp(`worker rank 1 \\(pid ${victim}\\) was killed by SIGKILL`));
    assert.match(died.message, /last words before the crash/);
    assert.ok(died.stderrTail.includes("last words before the crash"));
    assert.deepEqual(
      cluster.describe().map((row) => row.state),
      ["ready", "dead"],
    );
    // A later call on the dead rank fails at once with the same explanation; rank 0 still works.
    await assert.rejects(cluster.run(() => 1), /worker rank 1 .* was killed by SIGKILL/);
    assert.deepEqual(await cluster.run(({ rank }) => rank, { ranks: [0] }), [0]);
    await cluster.restart();
    assert.deepEqual(
      cluster.describe().map((row) => row.state),
      ["ready", "ready"],
    );
    assert.deepEqual(await cluster.run(({ rank }) => rank), [0, 1]);
  });

  it("fails an allReduce within 1 s when a rank is killed with SIGKILL, and allReduce works again after a restart", async () => {
    const running = cluster.run(async ({ collectives }) => {
      const big = new Float32Array(4 * 1024 * 1024).fill(1);
      for (;;) await collectives.allReduce(big);
    });
    await sleep(500);
    const victim = cluster.describe()[1]!.pid!;
    process.kill(victim, "SIGKILL");
    const { ms, error } = await timed(running);
    assert.ok(ms < 1000, `the failure took ${ms} ms`);
    assert.ok(error instanceof ClusterTaskError, String(error));
    assert.ok(error.failures[0]!.error instanceof WorkerDiedError, "the dead rank is the first failure");
    assert.match(error.message, new RegExp(`worker rank 1 \\(pid ${victim}\\) was killed by SIGKILL`));
    await cluster.restart();
    const sums = await cluster.run(async ({ rank, collectives }) => Array.from(await collectives.allReduce(new Float32Array([rank, 1]))));
    assert.deepEqual(sums, [
      [1, 2],
      [1, 2],
    ]);
  });

  it("reports a worker that exits by itself with its exit code and stderr", async () => {
    const running = cluster.run(({ rank }) => {
      if (rank === 0) {
        process.stderr.write("about to exit\n");
        // Ends the execution thread; the supervisor exits the process with the same code.
        setTimeout(() => process.exit(3), 50);
      }
      return new Promise(() => {});
    });
    const { ms, error } = await timed(running);
    assert.ok(ms < 1000, `took ${ms} ms`);
    const died = (error as ClusterTaskError).failures.find((failure) => failure.rank === 0)?.error;
    assert.ok(died instanceof WorkerDiedError, String(error));
    assert.equal(died.exitCode, 3);
    assert.match(died.message, /exited with code 3.*about to exit/s);
    await cluster.restart();
  });

  it("leaves no worker behind when its owner is killed with SIGKILL", async () => {
    const owner = spawn(process.execPath, [ownerScript, "2"], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      const pids = await new Promise<number[]>((resolve, reject) => {
        let text = "";
        owner.stdout.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          const match = /WORKERS ([\d ]+)\n/.exec(text);
          if (match) resolve(match[1]!.trim().split(" ").map(Number));
        });
        owner.once("exit", (code) => reject(new Error(`owner exited early with ${code}`)));
      });
      assert.equal(pids.length, 2);
      owner.kill("SIGKILL");
      const alive = await waitForExit(pids, 2000);
      assert.deepEqual(alive, [], `workers still alive 2 s after their owner was killed: ${alive.join(", ")}`);
      for (const pid of alive) killIfAlive(pid);
    } finally {
      killIfAlive(owner.pid);
    }
  });
});

describe("heartbeats", () => {
  it("a frozen worker is killed after the heartbeat timeout; an owner that was itself blocked that long keeps its workers", async () => {
    const logs: string[] = [];
    const cluster = await launchCluster({ workers: 2, heartbeatIntervalMs: 100, heartbeatTimeoutMs: 1000, log: (line) => logs.push(line) });
    try {
      const pids = cluster.describe().map((row) => row.pid);
      // The owner blocked for 1.5 s: the pongs that waited are read after the timer runs.
      const blockedUntil = performance.now() + 1500;
      while (performance.now() < blockedUntil);
      await sleep(300);
      assert.deepEqual(cluster.describe().map((row) => [row.pid, row.state]), pids.map((pid) => [pid, "ready"]), logs.join("\n"));
      assert.ok(logs.some((line) => /the owner did not check heartbeats for \d+ s/.test(line)), logs.join("\n"));
      assert.deepEqual(await cluster.run(() => 1), [1, 1]);
      // A worker that stops answering (SIGSTOP) while the owner runs is killed and reported.
      process.kill(pids[1]!, "SIGSTOP");
      const { ms, error } = await timed(cluster.run(() => new Promise((resolve) => setTimeout(resolve, 5000))));
      assert.ok(error instanceof ClusterTaskError, String(error));
      const died = error.failures.find((failure) => failure.rank === 1)?.error;
      assert.ok(died instanceof WorkerDiedError, String(died));
      assert.match(died.message, /no heartbeat for 1 s/);
      assert.ok(ms < 2500, `the failure took ${ms} ms`);
    } finally {
      await cluster.close();
    }
  });
});
