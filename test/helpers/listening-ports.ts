/**
 * The tcp ports a process listens on, read from /proc (Linux): its socket descriptors, matched by
 * inode against the LISTEN rows of its network namespace's tcp table. Lets a test find a port a
 * process chose itself (a ZeroMQ `tcp://host:*` bind) without asking the process.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** LISTEN in /proc/net/tcp's `st` column. */
const listenState = "0A";

export function listeningTcpPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = "";
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined) inodes.add(inode);
  }
  const ports: number[] = [];
  // Rows: sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
  for (const row of readFileSync(`/proc/${pid}/net/tcp`, "utf8").split("\n").slice(1)) {
    const fields = row.trim().split(/\s+/);
    const [, local, , state, , , , , , inode] = fields;
    if (state !== listenState || inode === undefined || !inodes.has(inode)) continue;
    const port = Number.parseInt(local?.split(":")[1] ?? "", 16);
    if (Number.isInteger(port)) ports.push(port);
  }
  return ports;
}
