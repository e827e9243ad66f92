/**
 * The slurm.conf of a test bed: slurmctld on the head, one node per host (addressed by the
 * host's own address), every state, log and pid file inside the bed's state directory, and the
 * bed's own munged socket. The settings follow the recipe that worked on this machine
 * (../shared/multihost/README.md, Q4): no cgroup plugins (no systemd here), root as SlurmUser.
 */
import { join } from "node:path";
import type { BedLayout } from "./bed-layout.js";

/** Files and directories of a bed's Slurm, all under its state directory. */
export interface SlurmPaths {
  confPath: string;
  mungeSocket: string;
  mungeDir: string;
  ctldStateDir: string;
  /** The spool directory of a node (Slurm's `%n` expands to the node name). */
  spoolDir(nodeName: string): string;
}

export function slurmPaths(stateDir: string): SlurmPaths {
  return {
    confPath: join(stateDir, "slurm.conf"),
    mungeSocket: join(stateDir, "munge.sock"),
    mungeDir: join(stateDir, "munge"),
    ctldStateDir: join(stateDir, "ctld"),
    spoolDir: (nodeName) => join(stateDir, `spool-${nodeName}`),
  };
}

/** Slurm's ports inside the bed's namespaces (each bed has its own, so they never collide). */
export const slurmctldPort = 16817;
export const slurmdPort = 16818;

/** The text of slurm.conf for `layout`, each node offering `cpusPerHost` CPUs. */
export function slurmConfText(layout: BedLayout, paths: SlurmPaths, cpusPerHost: number): string {
  const dir = layout.stateDir;
  const nodes = layout.hosts.map((host) => `NodeName=${host.name} NodeAddr=${host.address} CPUs=${cpusPerHost} RealMemory=1000 State=UNKNOWN`);
  return [
    `ClusterName=${layout.id}`,
    `SlurmctldHost=${layout.head.name}(${layout.head.address})`,
    `SlurmctldPort=${slurmctldPort}`,
    `SlurmdPort=${slurmdPort}`,
    "AuthType=auth/munge",
    "CredType=cred/munge",
    `AuthInfo=socket=${paths.mungeSocket}`,
    "SlurmUser=root",
    "SlurmdUser=root",
    `StateSaveLocation=${paths.ctldStateDir}`,
    `SlurmdSpoolDir=${join(dir, "spool-%n")}`,
    `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
    `SlurmdPidFile=${join(dir, "slurmd-%n.pid")}`,
    `SlurmctldLogFile=${join(dir, "slurmctld.log")}`,
    `SlurmdLogFile=${join(dir, "slurmd-%n.log")}`,
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_Core",
    "MpiDefault=none",
    // A node that was down (a restarted slurmd) comes back on its own.
    "ReturnToService=2",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "JobCompType=jobcomp/none",
    "SlurmdParameters=config_overrides",
    // Seconds between SIGTERM and SIGKILL when a step is cancelled: short, tests wait for it.
    "KillWait=2",
    ...nodes,
    "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
    "",
  ].join("\n");
}
