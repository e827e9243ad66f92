/** What runs on a bed, as the multi-host tests check it: worker processes and Slurm jobs. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { processesOfBed } from "./bed-teardown.js";
import type { TestBed } from "./test-bed.js";

/** Worker processes running on any host of the bed (node itself, not the sruns that started them). */
export function workersOnBed(bed: TestBed): number[] {
  return processesOfBed(bed.id)
    .filter(({ pid }) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return argv[0] === process.execPath && argv.some((arg) => /worker-process(\.bundle)?\.js$/.test(arg));
      } catch {
        return false;
      }
    })
    .map(({ pid }) => pid);
}

/** The bed's Slurm jobs, one `id state name` line each ("" when none). */
export async function jobsOf(bed: TestBed): Promise<string> {
  const result = await bed.runSlurm("squeue", ["-h", "-o", "%i %T %j"]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

/** Waits until no worker runs on the bed, at most `timeoutMs`; resolves with the time it took (or the timeout). */
export async function waitForNoWorkers(bed: TestBed, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (workersOnBed(bed).length > 0 && Date.now() - started < timeoutMs) await new Promise((resolve) => setTimeout(resolve, 50));
  return Date.now() - started;
}
