/**
 * A notebook session on several hosts: a real ringbook kernel on the bed's head host, driven over
 * ZeroMQ as a front end does (test/helpers/multihost/notebook-driver.ts), launches 4 workers as
 * Slurm job steps on 2 hosts (2 per host) and works with them as on one machine: `%%workers`,
 * training with a live plot equal to single-process training, a checkpoint that loads, an
 * interrupt that stops every worker's busy task and leaves them warm. Then the kernel is
 * SIGKILLed: no worker may run on any host, and no Slurm job be left, 5 s later.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { isJsonObject } from "../../lib/json-guards.js";
import { bedSkipReason } from "../helpers/multihost/bed-prerequisites.js";
import { jobsOf, waitForNoWorkers, workersOnBed } from "../helpers/multihost/bed-workers.js";
import { TestBed } from "../helpers/multihost/test-bed.js";

const skip = bedSkipReason();
if (skip !== undefined) console.log(`# multi-host notebook test skipped: ${skip}`);

const driver = fileURLToPath(new URL("../helpers/multihost/notebook-driver.js", import.meta.url));

/**
 * Float32 sums in another order (within a host, then across hosts, against one batch's sum) and
 * Adam's division by small second moments: as for the one-host oracle test (test/cluster/training).
 */
const weightTolerance = 2e-4;
const lossTolerance = 1e-4;

function field(value: unknown, name: string): unknown {
  assert.ok(isJsonObject(value) && name in value, `no ${name} in ${JSON.stringify(value)}`);
  return value[name];
}

describe("a notebook on 2 hosts x 2 workers", { skip }, () => {
  let bed: TestBed;
  before(async () => {
    bed = await TestBed.start({ hosts: 2, cpusPerHost: 2 });
  });
  after(async () => {
    await bed?.close();
  });

  it("runs %%workers, trains like one process with a live plot, checkpoints, interrupts every worker; a SIGKILLed kernel leaves no worker on any host", async () => {
    const scratch = join(bed.stateDir, "notebook");
    mkdirSync(scratch, { recursive: true });
    const args = [driver, JSON.stringify({ nodes: 2, tasksPerNode: 2, recordDir: join(bed.stateDir, "allocation-records"), scratch })];
    const result = await bed.run(bed.head, process.execPath, args, { env: bed.slurmEnv({ TMPDIR: scratch }), timeoutMs: 240_000 });
    assert.equal(result.code, 0, `driver failed:\n${result.stdout}\n${result.stderr}`);
    const [reportLine, killedLine] = result.stdout.trim().split("\n");
    const report: unknown = JSON.parse(reportLine ?? "");
    const killedAt = Number(field(JSON.parse(killedLine ?? ""), "killedAt"));

    assert.deepEqual(field(report, "hosts"), ["host1", "host1", "host2", "host2"]);
    // One job, one step per rank; the head host's interface on the nodes' subnet, chosen by default.
    const steps = field(report, "slurmSteps");
    assert.ok(Array.isArray(steps) && steps.length === 4 && new Set(steps.map((step) => String(step).split(".")[0])).size === 1 && new Set(steps).size === 4, JSON.stringify(steps));
    const network = field(report, "network");
    console.log(`# network: ${JSON.stringify(network)}`);
    assert.equal(field(network, "address"), bed.head.address);
    // %%workers shows each rank's value: here the name of the host it runs on.
    const workersText = String(field(report, "workersCellText"));
    for (const host of ["host1", "host2"]) assert.ok(workersText.includes(host), workersText);

    const trained = field(report, "trained");
    assert.equal(field(trained, "steps"), 12);
    assert.equal(field(trained, "backend"), "cpu");
    const weightDifference = Number(field(trained, "weightDifference"));
    assert.ok(weightDifference < weightTolerance, `weights differ from single-process training by ${weightDifference}`);
    const lossDifference = Number(field(trained, "lossDifference"));
    assert.ok(lossDifference < lossTolerance, `step losses differ from single-process training by ${lossDifference}`);
    assert.equal(field(trained, "checkpointDifference"), 0, "the checkpoint of the last step holds the trained weights");
    // The live plot: a Plotly figure displayed, then updated in place as steps arrive.
    const mimeTypes = field(report, "trainingMimeTypes");
    assert.ok(Array.isArray(mimeTypes) && mimeTypes.includes("application/vnd.plotly.v1+json"), JSON.stringify(mimeTypes));
    const kinds = field(report, "trainingOutputKinds");
    assert.ok(Array.isArray(kinds) && kinds.includes("display_data") && kinds.includes("update_display_data"), JSON.stringify(kinds));

    const interrupted = field(report, "interrupted");
    assert.equal(field(interrupted, "status"), "error", JSON.stringify(interrupted));
    const interruptMs = Number(field(interrupted, "interruptMs"));
    console.log(`# interrupt of a busy task on 4 workers on 2 hosts: the cell ended ${interruptMs.toFixed(0)} ms after the interrupt_request`);
    assert.ok(interruptMs < 5000, `the interrupted cell ended only after ${interruptMs} ms`);
    // The same workers answer the next cell.
    assert.equal((String(field(report, "afterInterruptText")).match(/42/g) ?? []).length, 4, String(field(report, "afterInterruptText")));

    const goneMs = await waitForNoWorkers(bed, Math.max(0, killedAt + 5000 - Date.now()));
    console.log(`# kernel SIGKILLed: no worker on any host ${Date.now() - killedAt} ms later (waited ${goneMs} ms here)`);
    assert.deepEqual(workersOnBed(bed), [], "no worker runs on any host 5 s after the kernel was SIGKILLed");
    // The allocation the cell made goes too, without a next kernel (the launcher's reaper).
    let jobs = await jobsOf(bed);
    while (jobs !== "" && Date.now() - killedAt < 5000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      jobs = await jobsOf(bed);
    }
    console.log(`# its Slurm job gone ${Date.now() - killedAt} ms after the SIGKILL`);
    assert.equal(jobs, "", "no Slurm job 5 s after the kernel was SIGKILLed");
  });
});
