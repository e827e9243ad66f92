/** Parsers of Slurm's client output and the allocation records of the Slurm launcher (no Slurm needed). */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cancelOrphanedAllocations, forgetAllocation, parseClusterName, recordAllocation } from "../../lib/cluster/slurm-allocation-records.js";
import { parseAllocationId, parseHostnames, parseNodeAddresses, runSlurmCommand, SlurmCommandError } from "../../lib/cluster/slurm-commands.js";

describe("Slurm command output", () => {
  it("takes the job id from salloc's granted or pending line", () => {
    assert.equal(parseAllocationId("salloc: Granted job allocation 12\n"), "12");
    assert.equal(parseAllocationId("salloc: Pending job allocation 7\nsalloc: job 7 queued and waiting for resources\n"), "7");
    assert.equal(parseAllocationId("salloc: error: Invalid partition name specified\n"), undefined);
  });

  it("reads node addresses from sinfo and rejects lines that are not 'name address'", () => {
    assert.deepEqual([...parseNodeAddresses("host1 198.18.0.1\nhost2 198.18.0.2\n\n")], [["host1", "198.18.0.1"], ["host2", "198.18.0.2"]]);
    assert.throws(() => parseNodeAddresses("host1\n"), (error: unknown) => error instanceof SlurmCommandError && /"host1"/.test(error.message));
  });

  it("reads scontrol show hostnames in Slurm's order", () => {
    assert.deepEqual(parseHostnames("host3\nhost1\n"), ["host3", "host1"]);
  });

  it("a missing client is an error that names the command, not a hang", async () => {
    await assert.rejects(
      runSlurmCommand("ringbook-no-such-squeue", ["-h"], { env: process.env, signal: AbortSignal.timeout(5000) }),
      (error: unknown) => error instanceof SlurmCommandError && error.code === "ERR_SLURM" && /ringbook-no-such-squeue -h could not start/.test(error.message),
    );
  });
});

describe("Slurm allocation records", () => {
  it("reads ClusterName from scontrol show config", () => {
    assert.equal(parseClusterName("Configuration data as of 2026-12-03T21:00:00\nAccountingStorageType   = (null)\nClusterName             = rbtb5f3a9c\n"), "rbtb5f3a9c");
    assert.equal(parseClusterName("SlurmctldPort = 6817\n"), undefined);
  });

  it("keeps the records of live owners and of other clusters, and cancels nothing for them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ringbook-records-"));
    try {
      recordAllocation(dir, { clusterName: "here", jobId: "12", jobName: "ringbook-aaaaaaaaaaaa" });
      const deadOwner = JSON.stringify({ clusterName: "elsewhere", jobId: "13", jobName: "ringbook-bbbbbbbbbbbb", owner: { pid: 1, startTicks: -1 } });
      writeFileSync(join(dir, "elsewhere-13.json"), deadOwner);
      // No scancel on PATH: a cancel attempt would reject.
      const cancelled = await cancelOrphanedAllocations(dir, "here", { env: { PATH: "/nonexistent" }, signal: AbortSignal.timeout(5000) });
      assert.deepEqual(cancelled, []);
      assert.deepEqual(readdirSync(dir).sort(), ["elsewhere-13.json", "here-12.json"]);
      forgetAllocation(dir, { clusterName: "here", jobId: "12" });
      assert.deepEqual(readdirSync(dir), ["elsewhere-13.json"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
