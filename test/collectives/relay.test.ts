import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StepResult } from "./fixtures/rank-protocol.js";
import { RankCluster, type RunOutcome } from "./rank-cluster.js";

function resultsOf(outcomes: RunOutcome[]): StepResult[][] {
  return outcomes.map((outcome, rank) => {
    assert.ok(outcome.ok, `rank ${rank} failed: ${outcome.ok ? "" : `${outcome.code} ${outcome.message}`}`);
    return outcome.results;
  });
}

describe("broadcast, allGather and barrier between rank processes", () => {
  test("broadcast from a non-zero root reaches every rank bit for bit (empty, 1 value, several chunks)", async () => {
    for (const [worldSize, root] of [[2, 1], [4, 3], [4, 2]] as const) {
      const cluster = await RankCluster.start(worldSize);
      try {
        const lengths = [0, 1, 1_000_003];
        const results = resultsOf(await cluster.run(lengths.map((length, i) => ({ op: "broadcast", root, length, seed: 30 + i }))));
        results.forEach((perStep, rank) =>
          perStep.forEach((result, i) => {
            assert.ok(result.op === "broadcast" && result.matches, `world ${worldSize}, root ${root}, ${lengths[i]} values: rank ${rank} got other values`);
          }),
        );
      } finally {
        await cluster.close();
      }
    }
  });

  test("allGather returns every rank's array, of different lengths including empty ones, in rank order", async () => {
    const cluster = await RankCluster.start(4, { chunkElements: 1000 });
    try {
      const lengths = [0, 1, 300_001, 5];
      const results = resultsOf(await cluster.run([{ op: "allGather", lengths, seed: 3 }, { op: "allGather", lengths: [2, 0, 0, 2001], seed: 4 }]));
      results.forEach((perStep, rank) =>
        perStep.forEach((result) => {
          assert.ok(result.op === "allGather" && result.matches, `rank ${rank}: ${JSON.stringify(result)}`);
        }),
      );
    } finally {
      await cluster.close();
    }
  });

  test("barrier: no rank leaves before the last one has entered", async () => {
    const cluster = await RankCluster.start(4);
    try {
      const results = resultsOf(await cluster.run((rank) => [{ op: "barrier", delayMs: (3 - rank) * 150 }]));
      const barriers = results.map((perStep) => perStep[0]!).map((result) => {
        assert.equal(result.op, "barrier");
        return result as Extract<StepResult, { op: "barrier" }>;
      });
      const lastEntry = Math.max(...barriers.map((b) => b.enteredAt));
      barriers.forEach((b, rank) => assert.ok(b.leftAt >= lastEntry, `rank ${rank} left at ${b.leftAt}, before the last rank entered at ${lastEntry}`));
      assert.ok(lastEntry - Math.min(...barriers.map((b) => b.enteredAt)) >= 400, "the ranks entered at different times");
    } finally {
      await cluster.close();
    }
  });
});
