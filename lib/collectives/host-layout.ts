/**
 * Which ranks share a host, for collectives that keep traffic inside a host where they can: pure
 * arithmetic from each rank's host name, the same on every rank (they all get the same list).
 */
import { RingbookError } from "../errors.js";

/** The ranks of one host, in rank order; the first is the host's leader. */
export interface HostGroup {
  readonly host: string;
  readonly ranks: readonly number[];
}

/** The hosts of a world and where one rank stands in it. */
export interface HostLayout {
  /** Hosts in the order of their lowest rank. */
  readonly groups: readonly HostGroup[];
  /** The leader (lowest rank) of every host, in the order of {@link HostLayout.groups}. */
  readonly leaders: readonly number[];
  /** This rank's host. */
  readonly own: HostGroup;
  /** This rank's host's index in {@link HostLayout.groups} (its place in the ring of leaders). */
  readonly ownIndex: number;
  /** True when reducing inside each host first pays: several hosts, and some host with several ranks. */
  readonly hierarchical: boolean;
}

/**
 * Groups ranks by host: `hosts[r]` names rank r's host (any string; equal strings mean one host).
 * Example: `hostLayoutOf(["a", "a", "b", "b"], 2)` puts rank 2 in host "b" with leader 2, and the
 * leaders' ring is [0, 2].
 */
export function hostLayoutOf(hosts: readonly string[], rank: number): HostLayout {
  if (!Number.isInteger(rank) || rank < 0 || rank >= hosts.length) throw new RingbookError("ERR_BAD_RANK", `rank ${String(rank)} is not in a world of ${hosts.length} (hosts ${JSON.stringify(hosts)})`);
  const byHost = new Map<string, number[]>();
  hosts.forEach((host, r) => {
    const ranks = byHost.get(host);
    if (ranks === undefined) byHost.set(host, [r]);
    else ranks.push(r);
  });
  const groups = [...byHost].map(([host, ranks]) => ({ host, ranks }));
  const ownIndex = groups.findIndex((group) => group.ranks.includes(rank));
  return {
    groups,
    leaders: groups.map((group) => group.ranks[0]!),
    own: groups[ownIndex]!,
    ownIndex,
    hierarchical: groups.length > 1 && groups.some((group) => group.ranks.length > 1),
  };
}
