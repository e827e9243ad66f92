/**
 * Names and addresses of one multi-host test bed, derived from its id alone. Everything a bed
 * creates on the machine (network namespaces, its state directory) carries the id, so whatever a
 * crashed run left behind can be found again and removed by name, and two beds never collide.
 */
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The prefix of every bed id: nothing else on the machine should use it. */
export const bedIdPrefix = "rbtb";

/** Where the beds keep their state directories (one per bed, named by its id). */
export const bedsRoot = join(tmpdir(), "ringbook-test-beds");

/**
 * The subnet every bed uses inside its own namespaces: the RFC 2544 benchmarking range, with no
 * route out. Beds never see each other's addresses (each has its own bridge), so they can share it.
 */
const subnetPrefix = "198.18.0";
const headOctet = 254;

/** The most hosts a bed may have (addresses .1 to .N, the head keeps .254). */
export const maxHosts = 64;

/** One simulated machine: a network namespace with its own hostname and address. */
export interface BedHost {
  /** Hostname inside the host, and its Slurm node name: `host1`, `host2`, ..., or `head`. */
  name: string;
  /** The network namespace, as listed by `ip netns list`. */
  namespace: string;
  /** The host's IPv4 address on the bed's bridge. */
  address: string;
}

/** Everything a bed is made of, by name. */
export interface BedLayout {
  id: string;
  /** The namespace holding the bridge `br0` that every host is cabled to. */
  switchNamespace: string;
  /** The compute hosts, each running one slurmd. */
  hosts: BedHost[];
  /** The login/controller host: slurmctld, munged and Slurm's clients run here. Never shaped. */
  head: BedHost;
  stateDir: string;
}

/** A fresh id such as `rbtb5f3a9c`. */
export function newBedId(): string {
  return `${bedIdPrefix}${randomBytes(3).toString("hex")}`;
}

/** True for a name that is a bed id (so a directory or namespace prefix we may have made). */
export function isBedId(name: string): boolean {
  return new RegExp(`^${bedIdPrefix}[0-9a-f]{6}$`).test(name);
}

/** The bed id a namespace belongs to (`rbtb5f3a9c-h2` → `rbtb5f3a9c`), or undefined for others. */
export function bedIdOfNamespace(namespace: string): string | undefined {
  const id = namespace.split("-", 1)[0] ?? "";
  return isBedId(id) && namespace.startsWith(`${id}-`) ? id : undefined;
}

/** True for the namespace of a compute host (`<id>-h<i>`), false for the head's and the switch's. */
export function isComputeHostNamespace(namespace: string): boolean {
  return /^[^-]+-h\d+$/.test(namespace);
}

/** The layout of bed `id` with `hostCount` compute hosts. */
export function bedLayout(id: string, hostCount: number): BedLayout {
  if (!isBedId(id)) throw new Error(`not a test bed id: ${JSON.stringify(id)}`);
  if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > maxHosts) {
    throw new Error(`a test bed has 1 to ${maxHosts} hosts, not ${hostCount}`);
  }
  const hosts = Array.from({ length: hostCount }, (_, i) => ({
    name: `host${i + 1}`,
    namespace: `${id}-h${i + 1}`,
    address: `${subnetPrefix}.${i + 1}`,
  }));
  return {
    id,
    switchNamespace: `${id}-sw`,
    hosts,
    head: { name: "head", namespace: `${id}-head`, address: `${subnetPrefix}.${headOctet}` },
    stateDir: join(bedsRoot, id),
  };
}

/** The `/etc/hosts` every host of the bed sees, so hosts resolve each other's names. */
export function hostsFileText(layout: BedLayout): string {
  const lines = ["127.0.0.1 localhost", ...[layout.head, ...layout.hosts].map((host) => `${host.address} ${host.name}`)];
  return `${lines.join("\n")}\n`;
}
