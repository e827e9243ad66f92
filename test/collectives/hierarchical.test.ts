/**
 * The host-aware all-reduce on one machine, with hosts claimed by the test: ranks that say they
 * share a host sum at their leader, the leaders run the ring, the result comes back. Checked
 * against the star oracle (rank-order sums) and the test's own sum.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hostLayoutOf } from "../../lib/collectives/host-layout.js";
import type { Step, StepResult } from "./fixtures/rank-protocol.js";
import { expectedSum, sameBits } from "./fixtures/test-data.js";
import { RankCluster, type RankClusterOptions, type RunOutcome } from "./rank-cluster.js";

type AllReduceResult = Extract<StepResult, { op: "allReduce" }>;

function allReduceResults(outcomes: RunOutcome[]): AllReduceResult[][] {
  return outcomes.map((outcome, rank) => {
    assert.ok(outcome.ok, `rank ${rank} failed: ${outcome.ok ? "" : `${outcome.code} ${outcome.message}`}`);
    return outcome.results.filter((result): result is AllReduceResult => result.op === "allReduce");
  });
}

/** Integer values: every order of summing is exact, so the result must equal the star oracle's bit for bit. */
async function checkExactSums(hosts: string[], lengths: number[], reduce: "sum" | "mean", options: RankClusterOptions = {}, into = false): Promise<void> {
  const worldSize = hosts.length;
  const cluster = await RankCluster.start(worldSize, { ...options, hosts });
  try {
    assert.deepEqual(cluster.hierarchical, hosts.map(() => true), "every rank should reduce within its host first");
    const steps: Step[] = lengths.map((length, i) => ({ op: "allReduce", length, seed: 300 + i, values: "integers", reduce, oracle: true, returnValues: length <= 5000, ...(into ? { into, repeat: 3 } : {}) }));
    const results = allReduceResults(await cluster.run(steps));
    lengths.forEach((length, i) => {
      const what = `hosts ${hosts.join(",")}, ${length} values, ${reduce}`;
      const mine = expectedSum(300 + i, worldSize, length, "integers", reduce === "mean");
      for (let rank = 0; rank < worldSize; rank++) {
        const result = results[rank]![i]!;
        assert.ok(result.ringMatchesExpected, `${what}: rank ${rank}'s result differs from the expected sum (max rel diff ${result.ringMaxRelativeDifference})`);
        assert.equal(result.ringVsStarMaxRelativeDifference, 0, `${what}: hierarchical and star differ on rank ${rank}`);
        assert.ok(result.inputUnchanged, `${what}: rank ${rank}'s input was changed`);
        assert.equal(result.digest, results[0]![i]!.digest, `${what}: rank ${rank} got different bits than rank 0`);
        if (result.values !== null) assert.ok(sameBits(result.values, mine), `${what}: rank ${rank}'s values differ from the sum computed in the test`);
        if (into) assert.equal(result.returnedInto, true, `${what}: rank ${rank}'s allReduce did not return its into array`);
      }
    });
  } finally {
    await cluster.close();
  }
}

const oddLengths = [1, 2, 3, 5, 7, 1001, 65537, 1_000_003];

describe("host layout", () => {
  test("groups ranks by host in order of their lowest rank; the lowest rank leads", () => {
    const layout = hostLayoutOf(["b", "a", "b", "a", "c"], 3);
    assert.deepEqual(layout.groups, [{ host: "b", ranks: [0, 2] }, { host: "a", ranks: [1, 3] }, { host: "c", ranks: [4] }]);
    assert.deepEqual(layout.leaders, [0, 1, 4]);
    assert.equal(layout.ownIndex, 1);
    assert.equal(layout.hierarchical, true);
  });

  test("one host, or one rank per host, is a plain ring", () => {
    assert.equal(hostLayoutOf(["a", "a", "a"], 0).hierarchical, false);
    assert.equal(hostLayoutOf(["a", "b", "c"], 2).hierarchical, false);
  });
});

describe("host-aware allReduce (hosts claimed on one machine)", () => {
  test("2 hosts x 2 ranks sum and average exactly like the star oracle, for odd lengths and lengths below the world size", async () => {
    await checkExactSums(["A", "A", "B", "B"], oddLengths, "sum");
    await checkExactSums(["A", "A", "B", "B"], [1, 3, 4097, 1_000_003], "mean");
  });

  test("uneven hosts (3 + 1 + 2 ranks, interleaved) and tiny chunks give the same sums", async () => {
    await checkExactSums(["A", "B", "A", "C", "A", "C"], [1, 2, 6, 7, 1001], "sum", { chunkElements: 5 });
    await checkExactSums(["A", "B", "A", "C", "A", "C"], [262_147], "mean");
  });

  test("into: the result is written into the caller's array, reused call after call", async () => {
    await checkExactSums(["A", "A", "B", "B"], [1, 3, 4097, 262_147], "mean", {}, true);
  });

  test("random floats: every rank gets the same bits, within float rounding of the star oracle's rank-order sum", async () => {
    const hosts = ["A", "A", "B", "B"];
    const cluster = await RankCluster.start(4, { hosts });
    try {
      const lengths = [1, 1003, 4 * 1024 * 1024 + 1];
      const results = allReduceResults(await cluster.run(lengths.map((length, i) => ({ op: "allReduce", length, seed: 17 + i, values: "floats", reduce: "sum", oracle: true, returnValues: false }))));
      lengths.forEach((length, i) => {
        for (let rank = 0; rank < 4; rank++) {
          const result = results[rank]![i]!;
          assert.equal(result.digest, results[0]![i]!.digest, `${length} values: rank ${rank} got different bits than rank 0`);
          // Sums of 4 values in [-1, 1) in another order: a few float32 ulps of the largest partial sum.
          assert.ok(result.ringVsStarMaxRelativeDifference! < 1e-6, `${length} values: hierarchical vs star differ by ${result.ringVsStarMaxRelativeDifference}`);
          assert.ok(result.inputUnchanged);
        }
      });
    } finally {
      await cluster.close();
    }
  });

  test("mixed links (tcp between claimed hosts, ipc within one) with at least 4 chunks per segment give the same sums; each rank reaches its own host's peers over ipc", async () => {
    const hosts = ["A", "A", "B", "B"];
    await checkExactSums(hosts, [1, 7, 4097, 65_537, 1_000_003], "sum", { transport: "tcp", localLinks: true, minChunksPerSegment: 4 });
    const cluster = await RankCluster.start(4, { transport: "tcp", hosts, localLinks: true });
    try {
      cluster.connected.forEach((endpoints, rank) => {
        endpoints.forEach((endpoint, peer) => {
          if (peer !== rank) assert.match(endpoint, hosts[peer] === hosts[rank] ? /^ipc:\/\// : /^tcp:\/\//, `rank ${rank} -> rank ${peer}`);
        });
      });
    } finally {
      await cluster.close();
    }
  });

  test("a plain ring with at least 4 chunks per segment (tcp) gives the same sums; tiny arrays keep one chunk", async () => {
    const cluster = await RankCluster.start(4, { transport: "tcp", minChunksPerSegment: 4 });
    try {
      const outcomes = await cluster.run([1, 5, 65_536, 262_147, 1_000_003].map((length, i) => ({ op: "allReduce", length, seed: 40 + i, values: "integers", reduce: "sum", oracle: true, returnValues: false })));
      outcomes.forEach((outcome, rank) => {
        assert.ok(outcome.ok, `rank ${rank} failed`);
        for (const result of outcome.results) assert.ok(result.op === "allReduce" && result.ringMatchesExpected && result.ringVsStarMaxRelativeDifference === 0);
      });
    } finally {
      await cluster.close();
    }
  });

  test("broadcast, allGather and barrier still work, and interleave with host-aware allReduces", async () => {
    const cluster = await RankCluster.start(4, { hosts: ["A", "A", "B", "B"] });
    try {
      const outcomes = await cluster.run([
        { op: "allReduce", length: 1001, seed: 1, values: "integers", reduce: "sum", oracle: true, returnValues: false },
        { op: "broadcast", root: 3, length: 70_001, seed: 2 },
        { op: "allGather", lengths: [1, 0, 5, 1000], seed: 3 },
        { op: "barrier", delayMs: 0 },
        { op: "allReduce", length: 5, seed: 4, values: "integers", reduce: "mean", oracle: true, returnValues: false },
      ]);
      outcomes.forEach((outcome, rank) => {
        assert.ok(outcome.ok, `rank ${rank} failed`);
        const [first, broadcast, gather, , last] = outcome.results;
        assert.ok(first?.op === "allReduce" && first.ringMatchesExpected && first.ringVsStarMaxRelativeDifference === 0);
        assert.ok(broadcast?.op === "broadcast" && broadcast.matches);
        assert.ok(gather?.op === "allGather" && gather.matches);
        assert.ok(last?.op === "allReduce" && last.ringMatchesExpected && last.ringVsStarMaxRelativeDifference === 0);
      });
    } finally {
      await cluster.close();
    }
  });
});
