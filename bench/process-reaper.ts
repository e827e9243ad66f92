import { readdirSync, readFileSync } from "node:fs";

/** A process as the driver logged it: PID plus its start time, so a reused PID is never killed. */
export interface LoggedProcess {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot). */
  readonly startTicks: string;
}

interface ProcStat {
  readonly ppid: number;
  readonly pgrp: number;
  readonly startTicks: string;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // gone
  }
  // The command name is parenthesised and may contain spaces: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After the name: state(0) ppid(1) pgrp(2) ... starttime is field 22 overall = index 19 here.
  const ppid = Number(fields[1]);
  const pgrp = Number(fields[2]);
  const startTicks = fields[19];
  if (!Number.isInteger(ppid) || !Number.isInteger(pgrp) || startTicks === undefined) return undefined;
  return { ppid, pgrp, startTicks };
}

/** Parses the driver's PID log: one `<pid> <startTicks>` per line; malformed lines are ignored. */
export function parsePidLog(text: string): LoggedProcess[] {
  const processes: LoggedProcess[] = [];
  for (const line of text.split("\n")) {
    const match = /^(\d+) (\d+)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) {
      processes.push({ pid: Number(match[1]), startTicks: match[2] });
    }
  }
  return processes;
}

/** Whether this exact process (same PID and start time) is still alive (zombies count as gone). */
export function isStillRunning(process: LoggedProcess): boolean {
  const stat = readStat(process.pid);
  if (stat === undefined || stat.startTicks !== process.startTicks) return false;
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${process.pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** `pid`'s live descendants, found by walking /proc. */
function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === undefined) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(Number(entry));
    children.set(stat.ppid, siblings);
  }
  const found: number[] = [];
  const stack = [...(children.get(pid) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop();
    if (next === undefined) break;
    found.push(next);
    stack.push(...(children.get(next) ?? []));
  }
  return found;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * SIGKILLs every logged process that is still running, with its descendants and (when it leads
 * one, as jupyter_client's kernels do) its process group. Returns the PIDs it signalled.
 */
export function reapLoggedProcesses(logged: readonly LoggedProcess[]): number[] {
  const signalled: number[] = [];
  for (const entry of logged) {
    if (!isStillRunning(entry)) continue;
    // Collect the tree before killing: once the root dies, its children are re-parented away.
    const tree = [entry.pid, ...descendantsOf(entry.pid)];
    const leadsGroup = readStat(entry.pid)?.pgrp === entry.pid;
    for (const pid of tree) killQuietly(pid);
    if (leadsGroup) killQuietly(-entry.pid);
    signalled.push(...tree);
  }
  return signalled;
}
