/**
 * allReduce through the host's shared memory (Collectives' sharedMemory option): the sums equal
 * the star oracle's for every length and world size, every rank gets the same bits, successive
 * calls never read a previous call's values, no file name is left behind, and when a rank cannot
 * make or fill its file every rank goes on the ring, with the same results.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { HostSharedMemory } from "../../lib/collectives/host-shared-memory.js";
import type { Step, StepResult } from "./fixtures/rank-protocol.js";
import { expectedSum, sameBits } from "./fixtures/test-data.js";
import { RankCluster, type RunOutcome } from "./rank-cluster.js";

type AllReduceResult = Extract<StepResult, { op: "allReduce" }>;

function allReduceResults(outcomes: RunOutcome[]): AllReduceResult[][] {
  return outcomes.map((outcome, rank) => {
    assert.ok(outcome.ok, `rank ${rank} failed: ${outcome.ok ? "" : `${outcome.code} ${outcome.message}`}`);
    return outcome.results.filter((result): result is AllReduceResult => result.op === "allReduce");
  });
}

function scratchDirectory(): string {
  return mkdtempSync(join(tmpdir(), "rb-shm-test-"));
}

const oddLengths = [1, 2, 3, 5, 7, 1001, 65_537, 1_000_003];

/** Integer values (exact in any order): each rank's result equals the star oracle's and the test's own sum bit for bit. */
async function checkExactSums(worldSize: number, lengths: number[], reduce: "sum" | "mean", extra: Partial<Extract<Step, { op: "allReduce" }>> = {}): Promise<void> {
  const directory = scratchDirectory();
  const cluster = await RankCluster.start(worldSize, { sharedMemory: { directory, prefix: "sum", minElements: 1 } });
  try {
    const steps: Step[] = lengths.map((length, i) => ({ op: "allReduce", length, seed: 500 + i, values: "integers", reduce, oracle: true, returnValues: length <= 5000, ...extra }));
    const results = allReduceResults(await cluster.run(steps));
    lengths.forEach((length, i) => {
      const what = `${worldSize} ranks, ${length} values, ${reduce}`;
      const last = (extra.varyPerRepeat === true ? (extra.repeat ?? 1) - 1 : 0) + 500 + i;
      const mine = expectedSum(last, worldSize, length, "integers", reduce === "mean");
      for (let rank = 0; rank < worldSize; rank++) {
        const result = results[rank]![i]!;
        assert.equal(result.sharedMemory, "ready", `${what}: rank ${rank} is not using shared memory`);
        assert.ok(result.ringMatchesExpected, `${what}: rank ${rank}'s result differs from the expected sum (max rel diff ${result.ringMaxRelativeDifference})`);
        assert.equal(result.ringVsStarMaxRelativeDifference, 0, `${what}: shared memory and star differ on rank ${rank}`);
        assert.ok(result.inputUnchanged, `${what}: rank ${rank}'s input was changed`);
        assert.equal(result.digest, results[0]![i]!.digest, `${what}: rank ${rank} got different bits than rank 0`);
        if (result.values !== null) assert.ok(sameBits(result.values, mine), `${what}: rank ${rank}'s values differ from the sum computed in the test`);
        if (extra.into === true) assert.equal(result.returnedInto, true, `${what}: rank ${rank}'s allReduce did not return its into array`);
      }
    });
    assert.deepEqual(readdirSync(directory), [], "every rank unlinks its file once all ranks have opened it");
  } finally {
    await cluster.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

describe("allReduce through shared memory", () => {
  test("2 ranks: sums and means equal the star oracle's for odd lengths and lengths below the world size", async () => {
    await checkExactSums(2, oddLengths, "sum");
    await checkExactSums(2, [1, 3, 4097, 1_000_003], "mean");
  });

  test("3 and 4 ranks (reduce-scatter and all-gather through the files): the same", async () => {
    await checkExactSums(3, oddLengths, "sum");
    await checkExactSums(4, [1, 2, 3, 5, 4097, 262_147], "mean");
  });

  test("successive calls with new values each time (alternating slots with 2 ranks) never return a previous call's sum, into reused", async () => {
    await checkExactSums(2, [1, 4099, 262_147], "sum", { repeat: 7, varyPerRepeat: true, into: true });
    await checkExactSums(3, [5, 65_537], "mean", { repeat: 5, varyPerRepeat: true, into: true });
  });

  test("random floats: every rank gets the same bits, within float rounding of the star oracle's rank-order sum", async () => {
    const directory = scratchDirectory();
    const cluster = await RankCluster.start(4, { sharedMemory: { directory, prefix: "floats" } });
    try {
      const lengths = [16_384, 1_000_003];
      const results = allReduceResults(await cluster.run(lengths.map((length, i) => ({ op: "allReduce", length, seed: 70 + i, values: "floats", reduce: "sum", oracle: true, returnValues: false }))));
      lengths.forEach((length, i) => {
        for (let rank = 0; rank < 4; rank++) {
          const result = results[rank]![i]!;
          assert.equal(result.sharedMemory, "ready");
          assert.equal(result.digest, results[0]![i]!.digest, `${length} values: rank ${rank} got different bits than rank 0`);
          assert.ok(result.ringVsStarMaxRelativeDifference! < 1e-6, `${length} values: shared memory vs star differ by ${result.ringVsStarMaxRelativeDifference}`);
        }
      });
    } finally {
      await cluster.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("arrays shorter than minElements stay on the ring; broadcast, allGather and barrier interleave", async () => {
    const directory = scratchDirectory();
    const cluster = await RankCluster.start(3, { sharedMemory: { directory, prefix: "mixed", minElements: 1000 } });
    try {
      const outcomes = await cluster.run([
        { op: "allReduce", length: 999, seed: 1, values: "integers", reduce: "sum", oracle: true, returnValues: false },
        { op: "allReduce", length: 1000, seed: 2, values: "integers", reduce: "sum", oracle: true, returnValues: false },
        { op: "broadcast", root: 2, length: 70_001, seed: 3 },
        { op: "allGather", lengths: [1, 0, 5], seed: 4 },
        { op: "barrier", delayMs: 0 },
        { op: "allReduce", length: 5000, seed: 5, values: "integers", reduce: "mean", oracle: true, returnValues: false, repeat: 3 },
      ]);
      outcomes.forEach((outcome, rank) => {
        assert.ok(outcome.ok, `rank ${rank} failed: ${outcome.ok ? "" : outcome.message}`);
        const [small, large, broadcast, gather, , last] = outcome.results;
        assert.ok(small?.op === "allReduce" && small.ringMatchesExpected && small.sharedMemory === "untried", `rank ${rank}: 999 values go on the ring`);
        assert.ok(large?.op === "allReduce" && large.ringMatchesExpected && large.sharedMemory === "ready");
        assert.ok(broadcast?.op === "broadcast" && broadcast.matches);
        assert.ok(gather?.op === "allGather" && gather.matches);
        assert.ok(last?.op === "allReduce" && last.ringMatchesExpected && last.ringVsStarMaxRelativeDifference === 0);
      });
    } finally {
      await cluster.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("a rank that cannot create its file (the name is taken): every rank uses the ring, with the same sums, and says why", async () => {
    const directory = scratchDirectory();
    // Someone else's file where rank 1's would go: it must never be used.
    writeFileSync(HostSharedMemory.pathOf(directory, "taken", 1), "not ringbook's");
    const cluster = await RankCluster.start(2, { sharedMemory: { directory, prefix: "taken", minElements: 1 } });
    try {
      const results = allReduceResults(await cluster.run([1, 65_537, 300_001].map((length, i) => ({ op: "allReduce", length, seed: 90 + i, values: "integers", reduce: "sum", oracle: true, returnValues: false }))));
      for (let rank = 0; rank < 2; rank++) {
        for (const result of results[rank]!) {
          assert.equal(result.sharedMemory, "off");
          assert.ok(result.ringMatchesExpected && result.ringVsStarMaxRelativeDifference === 0);
        }
      }
      assert.ok(cluster.logs(1).some((line) => /rank 1 could not create its file .*EEXIST/.test(line)), `rank 1 says why: ${cluster.logs(1).join("\n")}`);
      assert.ok(cluster.logs(0).some((line) => line.includes("another rank could not create its file")), `rank 0 says why: ${cluster.logs(0).join("\n")}`);
      assert.deepEqual(readdirSync(directory), [HostSharedMemory.pathOf(directory, "taken", 1).slice(directory.length + 1)], "rank 0's file is gone, the foreign one untouched");
    } finally {
      await cluster.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("a shared memory too small for an array (a full tmpfs): that call and every later one go on the ring on every rank, with the right sums", { skip: process.getuid?.() === 0 ? false : "mounting a small tmpfs needs root" }, async () => {
    const directory = scratchDirectory();
    // 256 KiB: room for a 16,384-value array's two slots on each of 2 ranks, not for 300,001 values.
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", directory]);
    try {
      const cluster = await RankCluster.start(2, { sharedMemory: { directory, prefix: "full", minElements: 1 } });
      try {
        const lengths = [16_384, 300_001, 16_384];
        const results = allReduceResults(await cluster.run(lengths.map((length, i) => ({ op: "allReduce", length, seed: 110 + i, values: "integers", reduce: "sum", oracle: true, returnValues: false }))));
        for (let rank = 0; rank < 2; rank++) {
          assert.deepEqual(results[rank]!.map((result) => result.sharedMemory), ["ready", "off", "off"], `rank ${rank}`);
          for (const result of results[rank]!) assert.ok(result.ringMatchesExpected && result.ringVsStarMaxRelativeDifference === 0, `rank ${rank}: wrong sum`);
        }
        const said = [...cluster.logs(0), ...cluster.logs(1)];
        assert.ok(said.some((line) => /could not write its input to shared memory: .*ENOSPC/.test(line)), `a rank says ENOSPC: ${said.join("\n")}`);
      } finally {
        await cluster.close();
      }
    } finally {
      execFileSync("umount", [directory]);
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
