/**
 * The bed's network: one namespace per host, each with a veth `veth0` cabled to a port of the
 * bridge `br0`, which lives in a namespace of its own. The veth pairs are created straight inside
 * the two namespaces, so the machine's own namespace never gets an interface or a route. Links can
 * be shaped with tc's tbf on both directions (this kernel has no netem: rate only, no delay).
 */
import { runProcess } from "../run-process.js";
import type { BedLayout } from "./bed-layout.js";

/** Runs one `ip`/`tc` command and throws with its output if it fails. */
async function runChecked(command: string, args: string[]): Promise<void> {
  const result = await runProcess(command, args, { timeoutMs: 10_000 });
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited with ${result.code ?? result.signal}: ${result.stderr.trim()}`);
  }
}

/** Ethernet's MTU, the bed's default; clusters often run jumbo frames (9000). */
const defaultMtu = 1500;

/**
 * Creates the switch and every host (head included) of `layout`. On failure it stops and throws;
 * the caller's teardown removes what was made (it finds the namespaces by the bed's id).
 */
export async function createBedNetwork(layout: BedLayout, mtu: number = defaultMtu): Promise<void> {
  if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 65535) throw new Error(`a link MTU must be an integer from 1280 to 65535, not ${mtu}`);
  const sw = layout.switchNamespace;
  await runChecked("ip", ["netns", "add", sw]);
  await runChecked("ip", ["-n", sw, "link", "set", "lo", "up"]);
  await runChecked("ip", ["-n", sw, "link", "add", "br0", "type", "bridge"]);
  await runChecked("ip", ["-n", sw, "link", "set", "br0", "up"]);
  for (const [index, host] of [layout.head, ...layout.hosts].entries()) {
    const port = `port${index}`;
    await runChecked("ip", ["netns", "add", host.namespace]);
    await runChecked("ip", ["-n", host.namespace, "link", "set", "lo", "up"]);
    await runChecked("ip", ["link", "add", "veth0", "netns", host.namespace, "type", "veth", "peer", "name", port, "netns", sw]);
    if (mtu !== defaultMtu) {
      await runChecked("ip", ["-n", host.namespace, "link", "set", "veth0", "mtu", String(mtu)]);
      await runChecked("ip", ["-n", sw, "link", "set", port, "mtu", String(mtu)]);
    }
    await runChecked("ip", ["-n", sw, "link", "set", port, "master", "br0"]);
    await runChecked("ip", ["-n", sw, "link", "set", port, "up"]);
    await runChecked("ip", ["-n", host.namespace, "addr", "add", `${host.address}/24`, "dev", "veth0"]);
    await runChecked("ip", ["-n", host.namespace, "link", "set", "veth0", "up"]);
  }
}

/**
 * tbf's burst for a rate: about rate x 1 ms (1 Gbit/s: 125 kB). A burst of megabytes lets short
 * transfers run well above the rate; 64 kB at 1 Gbit/s already loses throughput (measured in
 * ../shared/multihost/README.md, Q1).
 */
export function tbfBurstBytes(rateMbitPerS: number, mtu: number = defaultMtu): number {
  // At least a frame: tbf never sends a packet larger than its bucket.
  return Math.max(mtu + 100, Math.round((rateMbitPerS * 1e6) / 8 / 1000));
}

/**
 * Limits every compute host's link to `rateMbitPerS` in both directions: egress of the host's
 * `veth0` and egress of its switch port. The head's link stays unshaped.
 */
export async function shapeHostLinks(layout: BedLayout, rateMbitPerS: number, mtu: number = defaultMtu): Promise<void> {
  if (!(rateMbitPerS > 0)) throw new Error(`a link rate must be positive, not ${rateMbitPerS} Mbit/s`);
  const tbf = ["root", "tbf", "rate", `${rateMbitPerS}mbit`, "burst", String(tbfBurstBytes(rateMbitPerS, mtu)), "latency", "50ms"];
  for (const [index, host] of layout.hosts.entries()) {
    await runChecked("tc", ["-n", host.namespace, "qdisc", "replace", "dev", "veth0", ...tbf]);
    // Port numbers follow createBedNetwork: the head has port0, host i port i.
    await runChecked("tc", ["-n", layout.switchNamespace, "qdisc", "replace", "dev", `port${index + 1}`, ...tbf]);
  }
}
