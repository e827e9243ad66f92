/**
 * The processes below a process, read from Linux's /proc, so that whoever started a kernel can
 * make sure nothing the kernel started (worker clusters) outlives it. A process is identified by
 * its pid *and* its start time, so a pid the system reused for someone else's process is never
 * mistaken for ours. Where /proc is missing (macOS, Windows) every function sees no processes.
 */
import { readdirSync, readFileSync } from "node:fs";

/** A process, as identified at one moment. */
export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks after boot (field 22 of /proc/PID/stat). */
  startTicks: number;
}

interface StatLine {
  pid: number;
  ppid: number;
  startTicks: number;
  /** `Z` for a zombie: dead, only waiting for its parent to read its exit status. */
  state: string;
}

/** Parses /proc/PID/stat; the command name (field 2) is in parentheses and may hold spaces. */
function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), fields[1] field 4 (ppid), fields[19] field 22 (starttime).
  const state = fields[0];
  const ppid = Number(fields[1]);
  const startTicks = Number(fields[19]);
  if (state === undefined || !Number.isInteger(ppid) || !Number.isInteger(startTicks)) return undefined;
  return { pid, ppid, startTicks, state };
}

/** The identity of a running process, or undefined where it does not run (or /proc is missing). */
export function identityOf(pid: number): ProcessIdentity | undefined {
  const stat = readStat(pid);
  return stat === undefined || stat.state === "Z" ? undefined : { pid, startTicks: stat.startTicks };
}

/** Every live process below `pid` (children, their children, ...), at this moment. */
export function descendantsOf(pid: number): ProcessIdentity[] {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  const children = new Map<number, StatLine[]>();
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat === undefined) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  }
  const found: ProcessIdentity[] = [];
  const queue = [pid];
  for (let parent = queue.shift(); parent !== undefined; parent = queue.shift()) {
    for (const child of children.get(parent) ?? []) {
      if (child.state !== "Z") found.push({ pid: child.pid, startTicks: child.startTicks });
      queue.push(child.pid);
    }
  }
  return found;
}

/** True while that very process runs (a zombie no longer runs). */
export function isRunning(process: ProcessIdentity): boolean {
  const stat = readStat(process.pid);
  return stat !== undefined && stat.startTicks === process.startTicks && stat.state !== "Z";
}

/**
 * Waits until none of `processes` runs; those still running after `graceMs` are sent SIGKILL
 * (each checked by pid and start time just before) and awaited a little longer. Resolves with the
 * ones that had to be killed.
 */
export async function reapProcesses(processes: readonly ProcessIdentity[], options: { graceMs: number; pollMs?: number }): Promise<ProcessIdentity[]> {
  const pollMs = options.pollMs ?? 50;
  const waitUntilGone = async (deadline: number): Promise<ProcessIdentity[]> => {
    for (;;) {
      const left = processes.filter(isRunning);
      if (left.length === 0 || Date.now() >= deadline) return left;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  };
  const survivors = await waitUntilGone(Date.now() + options.graceMs);
  for (const survivor of survivors) {
    if (!isRunning(survivor)) continue;
    try {
      process.kill(survivor.pid, "SIGKILL");
    } catch {
      // It exited between the check and the kill.
    }
  }
  if (survivors.length > 0) await waitUntilGone(Date.now() + 2000);
  return survivors;
}
