/** Parsers of Slurm's client output used by the Slurm launcher (no Slurm needed). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
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
