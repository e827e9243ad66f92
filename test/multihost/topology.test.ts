/**
 * Topology on the multi-host test bed: ranks of one host talk over ipc, ranks of different hosts
 * over tcp, and the collectives (the host-aware all-reduce with several ranks per host, the plain
 * ring with one) agree with the star oracle, for 4 hosts x 1 worker and 2 hosts x 2 workers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { bedSkipReason } from "../helpers/multihost/bed-prerequisites.js";
import { TestBed } from "../helpers/multihost/test-bed.js";

const skip = bedSkipReason();
if (skip !== undefined) console.log(`# topology tests skipped: ${skip}`);

const driver = fileURLToPath(new URL("../helpers/multihost/topology-driver.js", import.meta.url));

/** Lengths not divisible by the world size, below it, tiny, and several chunks long (1 MiB chunks). */
const lengths = [1, 2, 3, 5, 7, 1001, 65_537, 262_147, 1_000_003];

interface Check {
  length: number;
  kind: string;
  mean: boolean;
  maxRelativeDifference: number;
  inputUnchanged: boolean;
  digest: string;
}

interface RankReport {
  rank: number;
  hierarchical: boolean;
  checks: Check[];
  broadcastMatches: boolean;
  tcpPeers: Array<{ local: string; remote: string }>;
}

/** Narrows the driver's line (JSON from another process) field by field. */
function parseReport(line: string): { hosts: string[]; ranks: RankReport[] } {
  const value: unknown = JSON.parse(line);
  assert.ok(typeof value === "object" && value !== null && "hosts" in value && "ranks" in value && Array.isArray(value.hosts) && Array.isArray(value.ranks), line);
  const ranks = value.ranks.map((item: unknown): RankReport => {
    assert.ok(typeof item === "object" && item !== null && "rank" in item && "hierarchical" in item && "checks" in item && "broadcastMatches" in item && "tcpPeers" in item, JSON.stringify(item));
    assert.ok(Array.isArray(item.checks) && Array.isArray(item.tcpPeers));
    return {
      rank: Number(item.rank),
      hierarchical: item.hierarchical === true,
      broadcastMatches: item.broadcastMatches === true,
      checks: item.checks.map((check: unknown): Check => {
        assert.ok(typeof check === "object" && check !== null && "length" in check && "kind" in check && "mean" in check && "maxRelativeDifference" in check && "inputUnchanged" in check && "digest" in check);
        return { length: Number(check.length), kind: String(check.kind), mean: check.mean === true, maxRelativeDifference: Number(check.maxRelativeDifference), inputUnchanged: check.inputUnchanged === true, digest: String(check.digest) };
      }),
      tcpPeers: item.tcpPeers.map((peer: unknown) => {
        assert.ok(typeof peer === "object" && peer !== null && "local" in peer && "remote" in peer);
        return { local: String(peer.local), remote: String(peer.remote) };
      }),
    };
  });
  return { hosts: value.hosts.map(String), ranks };
}

const cases = [
  { hosts: 4, tasksPerNode: 1, hierarchical: false },
  { hosts: 2, tasksPerNode: 2, hierarchical: true },
];

describe("collectives across the hosts of the test bed", { skip }, () => {
  for (const { hosts, tasksPerNode, hierarchical } of cases) {
    describe(`${hosts} hosts x ${tasksPerNode} worker${tasksPerNode > 1 ? "s" : ""}`, () => {
      let bed: TestBed;
      before(async () => {
        bed = await TestBed.start({ hosts, cpusPerHost: 2 });
      });
      after(async () => {
        await bed?.close();
      });

      it(`ranks of one host link over ipc, of different hosts over tcp; allReduce (${hierarchical ? "within each host, then a ring between hosts" : "a ring"}), broadcast and barrier agree with the star oracle`, async () => {
        const args = [driver, JSON.stringify({ nodes: hosts, tasksPerNode, ownerAddress: bed.head.address, recordDir: join(bed.stateDir, "allocation-records"), lengths })];
        const result = await bed.run(bed.head, process.execPath, args, { env: bed.slurmEnv(), timeoutMs: 180_000 });
        assert.equal(result.code, 0, `driver failed:\n${result.stdout}\n${result.stderr}`);
        const report = parseReport(result.stdout.trim().split("\n")[0] ?? "");
        const workers = hosts * tasksPerNode;
        const hostOfRank = Array.from({ length: workers }, (_, rank) => `host${Math.floor(rank / tasksPerNode) + 1}`);
        assert.deepEqual(report.hosts, hostOfRank);
        const addressOf = (host: string): string => bed.host(host).address;
        for (const rank of report.ranks) {
          const what = `rank ${rank.rank} on ${hostOfRank[rank.rank]}`;
          assert.equal(rank.hierarchical, hierarchical, `${what}: host-aware allReduce`);
          assert.ok(rank.broadcastMatches, `${what}: broadcast`);
          const own = addressOf(hostOfRank[rank.rank]!);
          // No mesh connection to its own host over tcp; one to every rank of another host.
          assert.deepEqual(rank.tcpPeers.filter((peer) => peer.remote === own), [], `${what}: a tcp connection within its host`);
          const otherHostRanks = hostOfRank.filter((host) => addressOf(host) !== own).length;
          const toOtherHosts = rank.tcpPeers.filter((peer) => peer.remote !== own && peer.remote !== bed.head.address);
          // Each pair of ranks on different hosts: this rank's dealer to the peer, and the peer's dealer to this rank's router.
          assert.equal(toOtherHosts.length, 2 * otherHostRanks, `${what}: tcp connections to the other hosts' ranks: ${JSON.stringify(toOtherHosts)}`);
          rank.checks.forEach((check, i) => {
            const label = `${what}: ${check.length} ${check.kind}${check.mean ? " (mean)" : ""}`;
            assert.ok(check.inputUnchanged, `${label}: the input changed`);
            assert.equal(check.digest, report.ranks[0]!.checks[i]!.digest, `${label}: different bits than rank 0`);
            // Integer sums are exact in any order; float sums of 4 values in [-1, 1) in another order differ by a few ulps.
            if (check.kind === "integers") assert.equal(check.maxRelativeDifference, 0, label);
            else assert.ok(check.maxRelativeDifference < 1e-6, `${label}: ${check.maxRelativeDifference}`);
          });
        }
      });
    });
  }
});
