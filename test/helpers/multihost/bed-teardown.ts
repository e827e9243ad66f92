/**
 * Removes a test bed completely, found by its id alone: every process in one of its network
 * namespaces (daemons, job steps, whatever a test started there), the namespaces (and with them
 * the veths and the bridge), then its state directory. It needs nothing the owner kept in memory,
 * so it serves `close()`, a signal handler and the removal of a crashed run's leftovers alike.
 *
 * Synchronous on purpose: it must also finish inside a SIGINT/SIGTERM handler and on `exit`,
 * where the event loop will not turn again. It takes a few seconds at most.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { basename } from "node:path";
import { identityOf, isRunning, type ProcessIdentity } from "../../../lib/process/process-tree.js";
import { bedIdOfNamespace, isComputeHostNamespace } from "./bed-layout.js";

/** What a teardown did, and what it could not do. */
export interface TeardownReport {
  bedId: string;
  /** Processes that were running in the bed's namespaces. */
  stoppedProcesses: number;
  /** Processes still running after SIGTERM, a grace period, SIGKILL and another wait. */
  survivors: ProcessIdentity[];
  removedNamespaces: string[];
  /** Namespaces `ip netns del` failed on, with its message. */
  failedNamespaces: string[];
}

const netnsDir = "/run/netns";
const termGraceMs = 3000;
const killWaitMs = 2000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Every namespace name that belongs to some bed (any id), as found in /run/netns. */
export function listBedNamespaces(): string[] {
  let names: string[];
  try {
    names = readdirSync(netnsDir);
  } catch {
    return [];
  }
  return names.filter((name) => bedIdOfNamespace(name) !== undefined);
}

/** The namespaces of bed `bedId`. */
export function namespacesOfBed(bedId: string): string[] {
  return listBedNamespaces().filter((name) => bedIdOfNamespace(name) === bedId);
}

/** The inode that identifies a named network namespace (what /proc/PID/ns/net points at). */
function namespaceInode(name: string): number | undefined {
  try {
    return statSync(`${netnsDir}/${name}`).ino;
  } catch {
    return undefined;
  }
}

/** Every running process whose network namespace is one of `inodes` (never this process). */
export function processesInNamespaces(inodes: ReadonlySet<number>): ProcessIdentity[] {
  const found: ProcessIdentity[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let link: string;
    try {
      link = readlinkSync(`/proc/${name}/ns/net`);
    } catch {
      continue; // gone, or a zombie
    }
    const inode = Number(/^net:\[(\d+)\]$/.exec(link)?.[1]);
    if (!inodes.has(inode)) continue;
    const identity = identityOf(Number(name));
    if (identity !== undefined) found.push(identity);
  }
  return found;
}

/** The processes running in bed `bedId`'s namespaces right now. */
export function processesOfBed(bedId: string): ProcessIdentity[] {
  const inodes = new Set(namespacesOfBed(bedId).map(namespaceInode).filter((inode) => inode !== undefined));
  return inodes.size === 0 ? [] : processesInNamespaces(inodes);
}

/**
 * The programs a bed starts its daemons through (nsenter, unshare, sh, each exec-ing the next)
 * and the daemons, found by the bed's id on their command line (the namespace path or the state
 * directory), wherever they are: outside the bed's namespaces while still entering one.
 */
function bedCommandsEntering(bedId: string): ProcessIdentity[] {
  const programs = new Set(["nsenter", "unshare", "sh", "munged", "slurmctld", "slurmd"]);
  const found: ProcessIdentity[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (!programs.has(basename(argv[0] ?? "")) || !argv.some((arg) => arg.includes(bedId))) continue;
    const identity = identityOf(Number(name));
    if (identity !== undefined) found.push(identity);
  }
  return found;
}

function signalEach(processes: readonly ProcessIdentity[], signal: NodeJS.Signals): void {
  for (const target of processes) {
    if (!isRunning(target)) continue; // checked by start time: never a reused pid
    try {
      process.kill(target.pid, signal);
    } catch {
      // It exited between the check and the signal.
    }
  }
}

function waitUntilGone(processes: readonly ProcessIdentity[], timeoutMs: number): ProcessIdentity[] {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = processes.filter(isRunning);
    if (left.length === 0 || Date.now() >= deadline) return left;
    sleepSync(50);
  }
}

/**
 * Stops everything of bed `bedId` and deletes its namespaces and `stateDir`. Never throws: what
 * it could not remove is in the report (and a later `cleanupLeftovers()` tries again, since the
 * namespaces still carry the id).
 */
export function tearDownBed(bedId: string, stateDir: string): TeardownReport {
  const namespaces = namespacesOfBed(bedId);
  const inodesOf = (names: string[]): Set<number> => new Set(names.map(namespaceInode).filter((inode) => inode !== undefined));
  const hostInodes = inodesOf(namespaces.filter(isComputeHostNamespace));
  const otherInodes = inodesOf(namespaces.filter((name) => !isComputeHostNamespace(name)));
  // The compute hosts first, then the head: a slurmd that loses slurmctld or munged first takes
  // 2 s to exit instead of 10 ms. With the head, the bed's commands still on their way into a
  // namespace (an nsenter that has not entered yet is not found by namespace).
  const stages = [() => processesInNamespaces(hostInodes), () => [...processesInNamespaces(otherInodes), ...bedCommandsEntering(bedId)]];
  const stopped = new Map<string, ProcessIdentity>();
  for (const scan of stages) {
    // Twice: a process may fork (slurmd starting a step) between the scan and the signal.
    for (let round = 0; round < 2; round++) {
      const running = scan();
      for (const target of running) stopped.set(`${target.pid}:${target.startTicks}`, target);
      signalEach(running, "SIGTERM");
      const left = waitUntilGone(running, termGraceMs);
      signalEach(left, "SIGKILL");
      waitUntilGone(left, killWaitMs);
    }
  }
  const survivors = [...stopped.values()].filter(isRunning);
  const removedNamespaces: string[] = [];
  const failedNamespaces: string[] = [];
  if (survivors.length === 0) {
    for (const name of namespaces) {
      const result = spawnSync("ip", ["netns", "del", name], { encoding: "utf8", timeout: 10_000 });
      if (result.status === 0) removedNamespaces.push(name);
      else failedNamespaces.push(`${name}: ${result.stderr?.trim() || result.error?.message || `exit ${result.status}`}`);
    }
    // The state directory goes last: a bed that could not be removed stays findable by it.
    if (failedNamespaces.length === 0) rmSync(stateDir, { recursive: true, force: true });
  }
  return { bedId, stoppedProcesses: stopped.size, survivors, removedNamespaces, failedNamespaces };
}
