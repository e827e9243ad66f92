import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Step, StepResult } from "./fixtures/rank-protocol.js";
import { expectedSum, sameBits } from "./fixtures/test-data.js";
import { RankCluster, type RunOutcome, type RankClusterOptions } from "./rank-cluster.js";

type AllReduceResult = Extract<StepResult, { op: "allReduce" }>;

function allReduceResults(outcomes: RunOutcome[]): AllReduceResult[][] {
  return outcomes.map((outcome, rank) => {
    assert.ok(outcome.ok, `rank ${rank} failed: ${outcome.ok ? "" : `${outcome.code} ${outcome.message}`}`);
    return outcome.results.map((result) => {
      assert.equal(result.op, "allReduce");
      return result as AllReduceResult;
    });
  });
}

/** Runs integer allReduces (exact in float32) of `lengths` on a fresh cluster and checks every rank against the oracle and the test's own sum. */
async function checkExactSums(worldSize: number, lengths: number[], reduce: "sum" | "mean", options: RankClusterOptions = {}, into = false): Promise<void> {
  const cluster = await RankCluster.start(worldSize, options);
  try {
    const steps: Step[] = lengths.map((length, i) => ({ op: "allReduce", length, seed: 100 + i, values: "integers", reduce, oracle: true, returnValues: length <= 5000, ...(into ? { into, repeat: 3 } : {}) }));
    const results = allReduceResults(await cluster.run(steps));
    lengths.forEach((length, i) => {
      const what = `world ${worldSize}, ${length} values, ${reduce}`;
      const mine = expectedSum(100 + i, worldSize, length, "integers", reduce === "mean");
      for (let rank = 0; rank < worldSize; rank++) {
        const result = results[rank]![i]!;
        assert.ok(result.ringMatchesExpected, `${what}: rank ${rank}'s ring result differs from the expected sum (max rel diff ${result.ringMaxRelativeDifference})`);
        assert.equal(result.starMatchesExpected, true, `${what}: rank ${rank}'s star result differs from the expected sum`);
        assert.equal(result.ringVsStarMaxRelativeDifference, 0, `${what}: ring and star differ on rank ${rank}`);
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

const oddLengths = [1, 2, 3, 5, 7, 1001, 65537, 262_147, 1_000_003];

describe("allReduce between rank processes", () => {
  test("a world of 1 returns a copy of the input", async () => {
    await checkExactSums(1, [1, 1001], "sum");
  });

  test("a world of 2 sums exactly like the star oracle, for odd lengths", async () => {
    await checkExactSums(2, oddLengths, "sum");
  });

  test("a world of 4 sums and averages exactly like the star oracle, for odd lengths and lengths below the world size", async () => {
    await checkExactSums(4, oddLengths, "sum");
    await checkExactSums(4, [1, 3, 4097, 1_000_003], "mean");
  });

  test("into: the result is written into the caller's array, reused call after call, for worlds of 1, 2 and 4", async () => {
    await checkExactSums(1, [1, 1001], "sum", {}, true);
    await checkExactSums(2, [1, 3, 1001, 262_147], "sum", {}, true);
    await checkExactSums(4, [1, 3, 4097, 262_147], "mean", {}, true);
  });

  test("tiny chunks (5 values) give the same sums, with many chunks per segment and empty segments", async () => {
    await checkExactSums(4, [1, 2, 3, 4, 5, 6, 17, 1001], "sum", { chunkElements: 5 });
    await checkExactSums(2, [1, 9, 10, 11, 333], "mean", { chunkElements: 5 });
  });

  test("tcp loopback gives the same sums", async () => {
    await checkExactSums(2, [7, 1_000_003], "sum", { transport: "tcp" });
  });

  test("64 MiB arrays (16 Mi values) sum exactly with 2 and 4 ranks", async () => {
    await checkExactSums(2, [16 * 1024 * 1024], "sum");
    await checkExactSums(4, [16 * 1024 * 1024 + 3], "mean");
  });

  test("random floats: every rank gets the same bits, within float rounding of the star oracle's rank-order sum", async () => {
    const cluster = await RankCluster.start(4);
    try {
      const lengths = [1, 1003, 4 * 1024 * 1024 + 1];
      const results = allReduceResults(
        await cluster.run(lengths.map((length, i) => ({ op: "allReduce", length, seed: 7 + i, values: "floats", reduce: "sum", oracle: true, returnValues: false }))),
      );
      lengths.forEach((length, i) => {
        for (let rank = 0; rank < 4; rank++) {
          const result = results[rank]![i]!;
          assert.equal(result.digest, results[0]![i]!.digest, `${length} values: rank ${rank} got different bits than rank 0`);
          assert.ok(result.ringVsStarMaxRelativeDifference! < 1e-6, `${length} values: ring vs star differ by ${result.ringVsStarMaxRelativeDifference}`);
          assert.ok(result.ringMaxRelativeDifference < 1e-6);
          assert.equal(result.starMatchesExpected, true);
          assert.ok(result.inputUnchanged);
        }
      });
    } finally {
      await cluster.close();
    }
  });
});
