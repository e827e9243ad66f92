/**
 * A record of every Slurm allocation a launcher made, kept until the launcher cancels it: a kernel
 * that was SIGKILLed cannot cancel its allocation (its workers exit, the allocation stays until
 * its time limit), so the next launcher on the same Slurm cluster cancels the allocations of
 * owners that are gone. A record names the cluster, the job id and the job's unique name, and is
 * cancelled with both (`scancel --name=NAME ID`), so a reused id is never someone else's job.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { identityOf, isRunning, type ProcessIdentity } from "../process/process-tree.js";
import { isJsonObject } from "../json-guards.js";
import { runSlurmCommand } from "./slurm-commands.js";

/** Where the records are kept unless a launcher is told otherwise. */
export const defaultAllocationRecordDir = join(homedir(), ".cache", "ringbook", "slurm-allocations");

export interface AllocationRecord {
  /** Slurm's ClusterName: job ids are only unique within one cluster. */
  clusterName: string;
  jobId: string;
  /** The job's name, unique per allocation (`ringbook-` and random hex). */
  jobName: string;
  /** The process that made it, by pid and start time. */
  owner: ProcessIdentity;
}

function recordFile(dir: string, record: { clusterName: string; jobId: string }): string {
  return join(dir, `${encodeURIComponent(record.clusterName)}-${record.jobId}.json`);
}

function parseRecord(text: string): AllocationRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isJsonObject(value) || !isJsonObject(value.owner)) return undefined;
  const { clusterName, jobId, jobName } = value;
  const { pid, startTicks } = value.owner;
  if (typeof clusterName !== "string" || typeof jobId !== "string" || !/^\d+$/.test(jobId) || typeof jobName !== "string" || !jobName.startsWith("ringbook-")) return undefined;
  if (typeof pid !== "number" || typeof startTicks !== "number") return undefined;
  return { clusterName, jobId, jobName, owner: { pid, startTicks } };
}

/** Records an allocation this process made (a private file: it names the user's jobs). */
export function recordAllocation(dir: string, allocation: { clusterName: string; jobId: string; jobName: string }): void {
  const owner = identityOf(process.pid);
  if (owner === undefined) return; // no /proc: nothing could tell later whether the owner lives
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(recordFile(dir, allocation), JSON.stringify({ ...allocation, owner } satisfies AllocationRecord), { mode: 0o600 });
}

/** Forgets an allocation (cancelled, or found gone). */
export function forgetAllocation(dir: string, allocation: { clusterName: string; jobId: string }): void {
  rmSync(recordFile(dir, allocation), { force: true });
}

/**
 * Cancels the recorded allocations on `clusterName` whose owner no longer runs, and forgets
 * them; resolves with their job ids. Records of live owners and of other clusters stay.
 */
export async function cancelOrphanedAllocations(dir: string, clusterName: string, options: { env: NodeJS.ProcessEnv; signal: AbortSignal }): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const cancelled: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      continue; // removed meanwhile by its owner
    }
    const record = parseRecord(text);
    if (record === undefined || record.clusterName !== clusterName || isRunning(record.owner)) continue;
    // Only a job with this id *and* this name: no other job, whatever became of the id.
    await runSlurmCommand("scancel", [`--name=${record.jobName}`, record.jobId], options);
    forgetAllocation(dir, record);
    cancelled.push(record.jobId);
  }
  return cancelled;
}

/** Parses `scontrol show config` for ClusterName. */
export function parseClusterName(configText: string): string | undefined {
  return /^ClusterName\s*=\s*(\S+)/m.exec(configText)?.[1];
}
