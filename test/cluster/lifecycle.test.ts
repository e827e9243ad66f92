/**
 * Launching and closing clusters with real worker processes: sizes 1, 2 and 4, what describe()
 * reports, option errors before any process starts, tcp transport, resize and restart, and a close
 * that is idempotent and leaves no process, socket or file behind.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { launchCluster, RingbookError, type Cluster } from "../../lib/index.js";
import { bestCpuBackend, isAlive, waitForExit } from "./helpers.js";

function pidsOf(cluster: Cluster): number[] {
  return cluster.describe().flatMap((row) => (row.pid === null ? [] : [row.pid]));
}

describe("cluster lifecycle", () => {
  for (const workers of [1, 2, 4]) {
    it(`launches ${workers} worker(s) with tfjs loaded, and close leaves no process, socket or file`, async () => {
      const cluster = await launchCluster({ workers, backend: "auto", devices: "cpu" });
      const rows = cluster.describe();
      assert.equal(rows.length, workers);
      assert.deepEqual(
        rows.map((row) => row.rank),
        Array.from({ length: workers }, (_, rank) => rank),
      );
      for (const row of rows) {
        assert.equal(row.state, "ready");
        assert.ok(row.pid !== null && isAlive(row.pid), `rank ${row.rank} pid ${row.pid} alive`);
        assert.equal(row.backend, bestCpuBackend, "without libtensorflow, wasm with the native kernels (or plain wasm without the addon) is the best here");
        assert.equal(row.device, "cpu");
        assert.ok(row.host.length > 0);
      }
      const dir = cluster.ipcDirectory;
      assert.ok(readdirSync(dir).includes("control"), "the control socket lives in the private dir");
      const pids = pidsOf(cluster);
      await cluster.close();
      await cluster.close();
      assert.deepEqual(await waitForExit(pids, 100), [], "every worker exited before close resolved");
      assert.equal(existsSync(dir), false, "the ipc directory is removed");
      assert.deepEqual(
        cluster.describe().map((row) => row.state),
        Array(workers).fill("closed"),
      );
      await assert.rejects(cluster.run(() => 1), { code: "ERR_CLUSTER_CLOSED" });
    });
  }

  it("rejects bad options with the offending value before starting anything", async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ workers: 0 }, /workers must be an integer from 1 to 1024, got 0/],
      [{ workers: 1.5 }, /got 1.5/],
      [{ workers: 2, backend: "cuda" }, /backend must be one of .*got "cuda"/],
      [{ workers: 2, devices: [-1] }, /devices must be .*got \[-1\]/],
      [{ workers: 2, transport: "udp" }, /transport must be "ipc" or "tcp", got "udp"/],
      [{ workers: 2, worker: 3 }, /unknown launchCluster option "worker"/],
      [{ workers: 2, launcher: { kind: "local" } }, /launcher must be a WorkerLauncher/],
      [{ workers: 2, heartbeatIntervalMs: 500, heartbeatTimeoutMs: 600 }, /heartbeatTimeoutMs \(600\) must exceed/],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(launchCluster(options as never), (error: unknown) => error instanceof RingbookError && error.code === "ERR_BAD_OPTION" && message.test(error.message));
    }
  });

  it("closes a launcher it was given when the options around it are wrong (a Slurm allocation is not left behind)", async () => {
    let closed = 0;
    const launcher = { kind: "slurm", start: () => assert.fail("no worker may start"), peerBindHost: () => "10.0.0.1", describe: () => "fake", close: async () => void closed++ };
    await assert.rejects(launchCluster({ workers: 2, transport: "ipc", launcher }), (error: unknown) => error instanceof RingbookError && /a slurm launcher starts workers on other hosts: use transport "tcp"/.test(error.message));
    assert.equal(closed, 1);
  });

  it("works over tcp bound to 127.0.0.1", async () => {
    const cluster = await launchCluster({ workers: 2, transport: "tcp" });
    try {
      assert.match(cluster.controlEndpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
      assert.deepEqual(await cluster.run(({ rank }) => rank * 2), [0, 2]);
    } finally {
      await cluster.close();
    }
  });

  it("restarts a rank with a fresh process and grows and shrinks between runs", async () => {
    const cluster = await launchCluster({ workers: 2 });
    try {
      await cluster.runCell("globalThis.mark = `rank ${rank}`");
      const before = cluster.describe();
      await cluster.restart([1]);
      const after = cluster.describe();
      assert.equal(after[0]!.pid, before[0]!.pid, "rank 0 is untouched");
      assert.notEqual(after[1]!.pid, before[1]!.pid, "rank 1 is a new process");
      assert.equal(after[1]!.incarnation, before[1]!.incarnation + 1);
      assert.equal(isAlive(before[1]!.pid!), false, "the old rank 1 process is gone");
      assert.deepEqual(await cluster.runCell("typeof mark === 'string' ? mark : 'fresh'"), ["rank 0", "fresh"]);
      assert.deepEqual(await cluster.run(async ({ collectives }) => (await collectives.allReduce(new Float32Array([2])))[0]), [4, 4], "the restarted rank joined the mesh");

      await cluster.resize(3);
      assert.equal(cluster.worldSize, 3);
      assert.deepEqual(await cluster.run(({ rank, worldSize }) => [rank, worldSize]), [
        [0, 3],
        [1, 3],
        [2, 3],
      ]);
      assert.deepEqual(await cluster.run(async ({ collectives }) => (await collectives.allReduce(new Float32Array([1])))[0]), [3, 3, 3], "the mesh spans the new world");
      const third = cluster.describe()[2]!.pid!;
      await cluster.resize(1);
      assert.equal(isAlive(third), false);
      assert.deepEqual(await cluster.run(({ rank, worldSize }) => [rank, worldSize]), [[0, 1]]);
      assert.deepEqual(await cluster.run(async ({ collectives }) => (await collectives.allReduce(new Float32Array([5])))[0]), [5]);
      await assert.rejects(cluster.run(() => 1, { ranks: [1] }), /rank 1 is not in this cluster of 1/);
    } finally {
      await cluster.close();
    }
  });
});
