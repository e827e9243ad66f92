import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { Step } from "./fixtures/rank-protocol.js";
import { RankCluster, type RunOutcome } from "./rank-cluster.js";

const victim = 2;
const survivors = [0, 1, 3];
/** Twenty 64 MiB allReduces in a row: the kill lands in the middle of one. */
const longAllReduce: Step = { op: "allReduce", length: 16 * 1024 * 1024, seed: 1, values: "floats", reduce: "sum", oracle: false, returnValues: false, verify: false, notifyStart: true, repeat: 20 };

function failureOf(outcome: RunOutcome, rank: number): Extract<RunOutcome, { ok: false }> {
  assert.ok(!outcome.ok, `rank ${rank}'s collective should have failed`);
  return outcome;
}

/** Starts the long allReduce everywhere, stops the victim with `signal` once all ranks are inside it, and returns when that happened and the survivors' outcome promises. */
async function interruptVictim(cluster: RankCluster, signal: NodeJS.Signals): Promise<{ at: number; outcomes: Array<Promise<RunOutcome>> }> {
  const running = cluster.runEach([longAllReduce]);
  const victimOutcome = running[victim]!.then(
    () => assert.fail("the victim's run should not finish"),
    () => undefined,
  );
  await Promise.all([0, 1, 2, 3].map((rank) => cluster.started(rank)));
  await delay(100);
  const at = Date.now();
  cluster.signal(victim, signal);
  if (signal === "SIGKILL") await victimOutcome;
  else void victimOutcome.catch(() => undefined);
  return { at, outcomes: survivors.map((rank) => running[rank]!) };
}

describe("failures", () => {
  test("kill -9 of a rank during a 64 MiB allReduce: every survivor's allReduce rejects within 1 s naming the dead rank, by the mesh's own detection", async (t) => {
    const cluster = await RankCluster.start(4);
    try {
      const { at, outcomes } = await interruptVictim(cluster, "SIGKILL");
      const failures = (await Promise.all(outcomes)).map((outcome, i) => failureOf(outcome, survivors[i]!));
      t.diagnostic(`survivors rejected ${failures.map((f) => f.atMs - at).join(", ")} ms after the kill: ${failures[0]!.message}`);
      failures.forEach((failure, i) => {
        assert.equal(failure.code, "ERR_PEER_LOST", failure.message);
        // (A kill landing exactly between two of the twenty allReduces is reported "between operations".)
        assert.match(failure.message, new RegExp(`lost the connection to rank ${victim} .*(during allReduce #\\d+|between operations)`));
        assert.ok(failure.atMs - at < 1000, `rank ${survivors[i]} rejected ${failure.atMs - at} ms after the kill`);
      });
      // The mesh is unusable afterwards: the next collective rejects at once with the same error.
      const after = await cluster.run([{ op: "barrier", delayMs: 0 }], survivors);
      after.forEach((outcome, i) => assert.equal(failureOf(outcome, survivors[i]!).code, "ERR_PEER_LOST"));
    } finally {
      await cluster.close();
    }
  });

  test("kill -9 with the mesh's own detection off: failPeer from the owner makes every survivor reject within 1 s with the owner's error", async (t) => {
    const cluster = await RankCluster.start(4, { watchPeers: false });
    try {
      const { at, outcomes } = await interruptVictim(cluster, "SIGKILL");
      for (const rank of survivors) cluster.send(rank, { type: "failPeer", rank: victim, message: `rank ${victim} was killed by the test` });
      const failures = (await Promise.all(outcomes)).map((outcome, i) => failureOf(outcome, survivors[i]!));
      t.diagnostic(`survivors rejected ${failures.map((f) => f.atMs - at).join(", ")} ms after the kill`);
      failures.forEach((failure, i) => {
        assert.equal(failure.code, "ERR_TEST_FAILED_PEER");
        assert.equal(failure.message, `rank ${victim} was killed by the test`);
        assert.ok(failure.atMs - at < 1000, `rank ${survivors[i]} rejected ${failure.atMs - at} ms after the kill`);
      });
    } finally {
      await cluster.close();
    }
  });

  test("a hung rank (SIGSTOP) keeps its connections; failPeer still ends the survivors' allReduce promptly", async (t) => {
    const cluster = await RankCluster.start(4);
    try {
      const { outcomes } = await interruptVictim(cluster, "SIGSTOP");
      await delay(300);
      const failedAt = Date.now();
      for (const rank of survivors) cluster.send(rank, { type: "failPeer", rank: victim, message: `rank ${victim} stopped answering` });
      const failures = (await Promise.all(outcomes)).map((outcome, i) => failureOf(outcome, survivors[i]!));
      t.diagnostic(`survivors rejected ${failures.map((f) => f.atMs - failedAt).join(", ")} ms after failPeer`);
      failures.forEach((failure, i) => {
        assert.equal(failure.code, "ERR_TEST_FAILED_PEER");
        assert.ok(failure.atMs - failedAt < 1000, `rank ${survivors[i]} rejected ${failure.atMs - failedAt} ms after failPeer`);
      });
    } finally {
      cluster.signal(victim, "SIGKILL");
      await cluster.close();
    }
  });

  test("ranks that pass different lengths or call different collectives get a mismatch error naming the rank, the operation and what differs", async () => {
    const cluster = await RankCluster.start(2);
    try {
      const outcomes = await cluster.run((rank) => [{ op: "allReduce", length: 10 + rank, seed: 1, values: "integers", reduce: "sum", oracle: false, returnValues: false }]);
      outcomes.forEach((outcome, rank) => {
        const failure = failureOf(outcome, rank);
        assert.equal(failure.code, "ERR_COLLECTIVE_MISMATCH");
        assert.match(failure.message, new RegExp(`^rank ${rank} expected allReduce #1 step 0 chunk 0 with 5 values of ${10 + rank} from rank ${1 - rank}, got allReduce #1 from rank ${1 - rank} \\(step 0, chunk 0, \\d+ of ${11 - rank} float32 values\\): the ranks passed arrays of different lengths`));
      });
    } finally {
      await cluster.close();
    }
    const second = await RankCluster.start(2);
    try {
      const outcomes = await second.run((rank) => [rank === 0 ? { op: "barrier", delayMs: 0 } : { op: "broadcast", root: 1, length: 3, seed: 1 }]);
      assert.match(failureOf(outcomes[0]!, 0).message, /^rank 0 expected barrier #1 .* from rank 1, got broadcast #1 from rank 1 .*: every rank must call the same collectives in the same order/);
      assert.equal(failureOf(outcomes[0]!, 0).code, "ERR_COLLECTIVE_MISMATCH");
    } finally {
      await second.close();
    }
  });

  test("an aborted collective rejects with ERR_ABORTED and leaves the mesh unusable", async () => {
    const cluster = await RankCluster.start(3);
    try {
      const started = Date.now();
      const [outcome] = await cluster.run([{ op: "allReduce", length: 100, seed: 1, values: "integers", reduce: "sum", oracle: false, returnValues: false, timeoutMs: 300 }], [0]);
      const failure = failureOf(outcome!, 0);
      assert.equal(failure.code, "ERR_ABORTED");
      assert.match(failure.message, /^rank 0: allReduce #1 was aborted/);
      assert.ok(failure.atMs - started >= 250 && failure.atMs - started < 1500, `aborted after ${failure.atMs - started} ms`);
      const [next] = await cluster.run([{ op: "barrier", delayMs: 0 }], [0]);
      assert.equal(failureOf(next!, 0).code, "ERR_ABORTED");
    } finally {
      await cluster.close();
    }
  });
});
