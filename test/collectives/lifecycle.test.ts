import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { Collectives } from "../../lib/collectives/collectives.js";
import { PeerMesh } from "../../lib/collectives/peer-mesh.js";
import { RingbookError } from "../../lib/errors.js";
import { ClusterSecret } from "../../lib/transport/cluster-secret.js";
import { PrivateDir } from "../../lib/transport/private-dir.js";
import type { StepResult } from "./fixtures/rank-protocol.js";
import { RankCluster } from "./rank-cluster.js";

const password = ClusterSecret.generate().socketPassword;

/** The directory's socket files (besides the record of its owner, see PrivateDir). */
async function socketFiles(path: string): Promise<string[]> {
  return (await readdir(path)).filter((name) => name !== "owner");
}

describe("mesh lifecycle", () => {
  test("close is idempotent, rejects later collectives and leaves no socket files", async () => {
    const cluster = await RankCluster.start(3);
    try {
      assert.deepEqual((await socketFiles(cluster.dir.path)).sort(), ["peer-0", "peer-1", "peer-2"]);
      const [outcome] = await cluster.run([{ op: "barrier", delayMs: 0 }]);
      assert.ok(outcome?.ok);
      const closed = await cluster.closeMeshes();
      for (const report of closed) {
        assert.equal(report.samePromise, true, "close() returns the same promise every time");
        assert.equal(report.afterCloseCode, "ERR_MESH_CLOSED");
        assert.deepEqual(report.diagnostics, { state: "closed", failed: true, operations: 1, stashedMessages: 0, ownedTasks: 0 });
      }
      assert.deepEqual(await socketFiles(cluster.dir.path), []);
    } finally {
      await cluster.close();
    }
  });

  test("1,500 sequential collectives leak no handles, tasks, stashed messages or heap", async (t) => {
    const cluster = await RankCluster.start(3);
    try {
      const outcomes = await cluster.run([{ op: "mixed", count: 300 }]);
      outcomes.forEach((outcome, rank) => {
        assert.ok(outcome.ok, outcome.ok ? "" : outcome.message);
        const result = outcome.results[0] as Extract<StepResult, { op: "mixed" }>;
        assert.deepEqual(result.resourcesAfter.sort(), result.resourcesBefore.sort(), `rank ${rank}: active resources changed`);
        const { operations: before, ...restBefore } = result.diagnosticsBefore as { operations: number };
        const { operations: after, ...restAfter } = result.diagnosticsAfter as { operations: number };
        assert.equal(after - before, 1500);
        assert.deepEqual(restAfter, restBefore, `rank ${rank}: mesh diagnostics changed`);
        const growthMiB = (result.heapAfterBytes - result.heapBeforeBytes) / 2 ** 20;
        if (rank === 0) t.diagnostic(`rank 0: heap ${(result.heapBeforeBytes / 2 ** 20).toFixed(1)} -> ${(result.heapAfterBytes / 2 ** 20).toFixed(1)} MiB after 1,500 collectives; ${JSON.stringify(result.diagnosticsAfter)}`);
        assert.ok(growthMiB < 4, `rank ${rank}: heap grew by ${growthMiB.toFixed(1)} MiB`);
      });
    } finally {
      await cluster.close();
    }
  });

  test("a failed bind closes what it opened: the ZAP domain is free again", async () => {
    const zapDomain = `test-${randomUUID()}`;
    await assert.rejects(PeerMesh.bind({ rank: 0, worldSize: 1, bindAddress: "ipc:///nonexistent-ringbook-dir/peer-0", password, zapDomain }), (error: unknown) => {
      assert.ok(error instanceof RingbookError && error.code === "ERR_MESH_BIND", String(error));
      assert.match(error.message, /rank 0 could not bind its peer socket at ipc:\/\/\/nonexistent-ringbook-dir\/peer-0/);
      return true;
    });
    const mesh = await PeerMesh.bind({ rank: 0, worldSize: 1, bindAddress: "tcp://127.0.0.1:*", password, zapDomain });
    await mesh.close();
  });

  test("a world of 1 over tcp: the endpoint has its port, every collective returns a new array", async () => {
    const mesh = await PeerMesh.bind({ rank: 0, worldSize: 1, bindAddress: "tcp://127.0.0.1:*", password, zapDomain: `test-${randomUUID()}` });
    try {
      assert.match(mesh.endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
      await assert.rejects(mesh.connect([mesh.endpoint, "tcp://127.0.0.1:1"]), { code: "ERR_BAD_ENDPOINTS" });
    } finally {
      await mesh.close();
    }
    const single = await PeerMesh.bind({ rank: 0, worldSize: 1, bindAddress: "tcp://127.0.0.1:*", password, zapDomain: `test-${randomUUID()}` });
    try {
      await single.connect([single.endpoint]);
      const collectives = new Collectives(single);
      const input = new Float32Array([1, 2, 3]);
      const sum = await collectives.allReduce(input, { op: "mean" });
      assert.deepEqual([...sum], [1, 2, 3]);
      assert.notEqual(sum, input);
      const [gathered] = await collectives.allGather(input);
      assert.notEqual(gathered, input);
      assert.deepEqual([...(await collectives.broadcast(input, 0))], [1, 2, 3]);
      await collectives.barrier();
      await assert.rejects(collectives.broadcast(input, 1), { code: "ERR_BAD_RANK" });
      await assert.rejects(collectives.allReduce([1, 2] as unknown as Float32Array), { code: "ERR_BAD_ARGUMENT", message: "allReduce takes a Float32Array, got Array" });
      const into = new Float32Array(3);
      assert.equal(await collectives.allReduce(input, { into }), into);
      assert.deepEqual([...into], [1, 2, 3]);
      await assert.rejects(collectives.allReduce(input, { into: new Float32Array(2) }), { code: "ERR_BAD_ARGUMENT", message: "allReduce's into has 2 values, the input 3" });
      await assert.rejects(collectives.allReduce(input, { into: input }), { code: "ERR_BAD_ARGUMENT", message: /must not overlap its input/ });
      const shared = new Float32Array(5);
      await assert.rejects(collectives.allReduce(shared.subarray(0, 3), { into: shared.subarray(2, 5) }), { code: "ERR_BAD_ARGUMENT", message: /must not overlap/ });
      assert.equal((await collectives.allReduce(shared.subarray(0, 2), { into: shared.subarray(2, 4) })).byteOffset, 8);
    } finally {
      await single.close();
      await single.close();
    }
  });

  test("connect to a peer that never comes is aborted by its signal, and close then removes the socket file", async () => {
    const dir = await PrivateDir.create("rbt-");
    try {
      const mesh = await PeerMesh.bind({ rank: 0, worldSize: 2, bindAddress: dir.endpoint("peer-0"), password, zapDomain: `test-${randomUUID()}` });
      try {
        const started = Date.now();
        await assert.rejects(mesh.connect([mesh.endpoint, dir.endpoint("peer-1")], { signal: AbortSignal.timeout(200) }), (error: unknown) => {
          assert.ok(error instanceof RingbookError && error.code === "ERR_ABORTED", String(error));
          assert.match(error.message, /^rank 0: connect was aborted/);
          return true;
        });
        assert.ok(Date.now() - started < 1000);
        await assert.rejects(new Collectives(mesh).barrier(), { code: "ERR_ABORTED" });
      } finally {
        const closing = Date.now();
        await mesh.close();
        assert.ok(Date.now() - closing < 500, "a mesh that never connected does not wait for goodbyes");
      }
      assert.deepEqual(await socketFiles(dir.path), []);
    } finally {
      await dir.remove();
    }
  });
});
