/**
 * Which of the owner's network interfaces the workers connect to, chosen explicitly and with its
 * reason (never from `gethostname()`: gloo's users meet a hostname resolving to 127.0.0.1 as
 * "connectFullMesh failed"). An option names the interface or one of its addresses; without it,
 * local workers use loopback and Slurm's workers the owner's interface on the way to the first
 * allocated node: the one whose subnet holds that node's address, else the one `ip route get`
 * names.
 */
import { spawnSync } from "node:child_process";
import { isIPv4 } from "node:net";
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import { RingbookError } from "../errors.js";
import { quote } from "../json-guards.js";

/** The owner's side of the workers' connections, as `describe()` shows it. */
export interface NetworkChoice {
  /** The address the owner's sockets bind to and workers connect to. */
  address: string;
  /** The interface holding it (undefined where none of this machine's does, e.g. ipc only). */
  interfaceName: string | undefined;
  /** Why this one, in a few words. */
  reason: string;
}

/** This machine's IPv4 interfaces: name, address and prefix length. */
export type InterfaceTable = ReadonlyArray<{ name: string; address: string; prefixLength: number }>;

/** Reads the machine's IPv4 interfaces (those of this network namespace). */
export function readInterfaceTable(): InterfaceTable {
  return Object.entries(networkInterfaces()).flatMap(([name, infos]) =>
    (infos ?? [])
      .filter((info: NetworkInterfaceInfo) => info.family === "IPv4")
      .map((info) => ({ name, address: info.address, prefixLength: Number(info.cidr?.split("/")[1] ?? 32) })),
  );
}

function ipv4ToNumber(address: string): number {
  return address.split(".").reduce((value, part) => value * 256 + Number(part), 0);
}

/** True when `address` lies in `network`/`prefixLength`. */
export function inSubnet(address: string, network: string, prefixLength: number): boolean {
  const size = 2 ** (32 - prefixLength);
  return Math.floor(ipv4ToNumber(address) / size) === Math.floor(ipv4ToNumber(network) / size);
}

function listInterfaces(table: InterfaceTable): string {
  return table.map((entry) => `${entry.name} ${entry.address}`).join(", ") || "none";
}

/** The `networkInterface` option: an interface name ("eth0") or one of this machine's addresses. */
export function interfaceFromOption(option: string, table: InterfaceTable): NetworkChoice {
  const byName = table.find((entry) => entry.name === option);
  if (byName !== undefined) return { address: byName.address, interfaceName: byName.name, reason: `networkInterface option ${JSON.stringify(option)}` };
  const byAddress = table.find((entry) => entry.address === option);
  if (byAddress !== undefined) return { address: byAddress.address, interfaceName: byAddress.name, reason: `networkInterface option ${JSON.stringify(option)}` };
  if (option === "0.0.0.0") throw new RingbookError("ERR_BAD_OPTION", `networkInterface must be one interface, not 0.0.0.0 (workers need one address to connect to); this machine has ${listInterfaces(table)}`);
  throw new RingbookError("ERR_BAD_OPTION", `networkInterface ${quote(option)} is neither an interface nor an IPv4 address of this machine (${listInterfaces(table)})`);
}

/** Parses `ip route get ADDR` ("198.18.0.1 dev veth0 src 198.18.0.254 uid 0"): device and source address. */
export function parseRouteGet(text: string): { device: string; source: string } | undefined {
  const device = /\bdev (\S+)/.exec(text)?.[1];
  const source = /\bsrc (\S+)/.exec(text)?.[1];
  return device === undefined || source === undefined ? undefined : { device, source };
}

/**
 * The interface towards `target` (an IPv4 address; `what` says whose, for the reason): the one
 * whose subnet holds it, else the route's.
 */
export function interfaceTowards(target: string, what: string, table: InterfaceTable): NetworkChoice {
  if (!isIPv4(target)) throw new RingbookError("ERR_BAD_OPTION", `cannot choose an interface towards ${what} at ${quote(target)} (not an IPv4 address): set the networkInterface option (this machine has ${listInterfaces(table)})`);
  const local = table.find((entry) => entry.address !== "127.0.0.1" && inSubnet(target, entry.address, entry.prefixLength));
  if (local !== undefined) return { address: local.address, interfaceName: local.name, reason: `its subnet ${local.address}/${local.prefixLength} holds ${what} (${target})` };
  // A bounded, synchronous look-up: ip answers from the kernel's table at once.
  const route = spawnSync("ip", ["route", "get", target], { encoding: "utf8", timeout: 5000 });
  const parsed = route.status === 0 ? parseRouteGet(route.stdout) : undefined;
  if (parsed !== undefined) return { address: parsed.source, interfaceName: parsed.device, reason: `the route to ${what} (${target}) leaves through it` };
  throw new RingbookError("ERR_BAD_OPTION", `no interface of this machine reaches ${what} at ${target} (no subnet holds it; ip route get: ${(route.stderr || route.error?.message || "no answer").trim()}): set the networkInterface option (this machine has ${listInterfaces(table)})`);
}

/** The choice for workers on this machine: loopback. */
export const loopbackChoice: NetworkChoice = { address: "127.0.0.1", interfaceName: "lo", reason: "workers on this machine: loopback" };
