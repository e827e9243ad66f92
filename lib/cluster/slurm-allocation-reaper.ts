/**
 * Cancels a Slurm allocation as soon as its owner is gone, whatever ended it (a SIGKILLed kernel
 * included): a small process in its own session, started by the Slurm launcher that made the
 * allocation, holding a pipe from the owner on its stdin. The owner writes "released" before it
 * closes the pipe when it cancelled the allocation itself; a pipe that ends without it means the
 * owner died, and this process runs `scancel --name=NAME ID` (the name too, so a reused id is
 * never someone else's job), removes the allocation's record, and exits. Slurm would otherwise
 * keep the allocation (InactiveLimit=0, ../shared/multihost/README.md Q4); the record stays the
 * fallback for a reaper killed along with its owner.
 *
 * Usage (by the launcher only): node slurm-allocation-reaper.js JOB_ID JOB_NAME RECORD_DIR CLUSTER_NAME
 */
import { forgetAllocation } from "./slurm-allocation-records.js";
import { runSlurmCommand } from "./slurm-commands.js";

const [jobId, jobName, recordDir, clusterName] = process.argv.slice(2);
if (jobId === undefined || !/^\d+$/.test(jobId) || jobName === undefined || recordDir === undefined || clusterName === undefined) {
  process.stderr.write(`usage: slurm-allocation-reaper.js JOB_ID JOB_NAME RECORD_DIR CLUSTER_NAME, got ${JSON.stringify(process.argv.slice(2))}\n`);
  process.exit(2);
}

let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => (text += chunk));
// Errors on the pipe (the owner gone mid-write) end it like an EOF.
process.stdin.on("error", () => undefined);
process.stdin.once("close", () => {
  if (text.split("\n").includes("released")) process.exit(0);
  runSlurmCommand("scancel", [`--name=${jobName}`, jobId], { env: process.env, signal: AbortSignal.timeout(30_000) }).then(
    () => {
      forgetAllocation(recordDir, { clusterName, jobId });
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`cancelling Slurm job ${jobId} failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
});
