/**
 * A cluster owner for the topology tests, run on a bed's head host: launches workers as Slurm job
 * steps over tcp (`tasksPerNode` per host) and has every rank check the collectives against the
 * star oracle's rank-order sum, and report which tcp connections its process holds (ranks of one
 * host must talk over ipc, so no rank may hold a tcp connection to its own host's address).
 * Prints one JSON line: `{ hosts, ranks: [...] }`, then closes the cluster.
 * Usage: topology-driver.js '{"nodes":2,"tasksPerNode":2,"ownerAddress":"198.18.0.254","recordDir":"...","lengths":[1,5,...]}'
 */
import { isJsonObject } from "../../../lib/json-guards.js";
import { launchCluster, SlurmLauncher } from "../../../lib/index.js";

const options: unknown = JSON.parse(process.argv[2] ?? "");
if (!isJsonObject(options)) throw new Error(`driver options must be a JSON object, got ${process.argv[2]}`);
const { nodes, tasksPerNode, ownerAddress, recordDir, lengths } = options;
if (typeof nodes !== "number" || typeof tasksPerNode !== "number" || typeof ownerAddress !== "string" || typeof recordDir !== "string" || !Array.isArray(lengths) || !lengths.every((n) => typeof n === "number")) {
  throw new Error(`driver options need nodes, tasksPerNode, ownerAddress, recordDir and lengths: ${process.argv[2]}`);
}

const launcher = await SlurmLauncher.open({ nodes, tasksPerNode, recordDir });
const cluster = await launchCluster({ workers: nodes * tasksPerNode, transport: "tcp", networkInterface: ownerAddress, backend: "cpu", launcher, log: (line) => process.stderr.write(`${line}\n`) });
try {
  const hosts = cluster.describe().map((row) => row.host);
  const ranks = await cluster.run(
    async ({ collectives, rank, worldSize, args }) => {
      const { createHash } = await import("node:crypto");
      const { readFileSync, readdirSync, readlinkSync } = await import("node:fs");
      // The same xorshift values as test/collectives/fixtures/test-data.ts: small integers (every
      // order of summing is exact) or floats in [-1, 1).
      const valuesOf = (seed: number, r: number, length: number, kind: string): Float32Array => {
        const values = new Float32Array(length);
        let state = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(r + 1, 0x85ebca6b)) | 1;
        for (let i = 0; i < length; i++) {
          state ^= state << 13;
          state ^= state >>> 17;
          state ^= state << 5;
          const unit = (state >>> 0) / 0x1_0000_0000;
          values[i] = kind === "integers" ? Math.floor(unit * 2001) - 1000 : unit * 2 - 1;
        }
        return values;
      };
      // What the star oracle (lib/collectives/star.ts) computes: rank 0's values plus every other rank's in rank order, each step rounded to float32, then divided.
      const starOf = (seed: number, length: number, kind: string, mean: boolean): Float32Array => {
        const sum = valuesOf(seed, 0, length, kind);
        for (let r = 1; r < worldSize; r++) {
          const part = valuesOf(seed, r, length, kind);
          for (let i = 0; i < length; i++) sum[i]! += part[i]!;
        }
        if (mean) for (let i = 0; i < length; i++) sum[i]! /= worldSize;
        return sum;
      };
      const checks = [];
      let seed = 1;
      for (const length of args.lengths) {
        for (const [kind, mean] of [["integers", false], ["integers", true], ["floats", false]] as const) {
          seed++;
          const input = valuesOf(seed, rank, length, kind);
          const result = await collectives.allReduce(input, { op: mean ? "mean" : "sum" });
          const star = starOf(seed, length, kind, mean);
          let maxRelativeDifference = 0;
          for (let i = 0; i < length; i++) maxRelativeDifference = Math.max(maxRelativeDifference, Math.abs(result[i]! - star[i]!) / Math.max(1, Math.abs(star[i]!)));
          const inputUnchanged = Buffer.from(input.buffer, input.byteOffset, input.byteLength).equals(Buffer.from(valuesOf(seed, rank, length, kind).buffer));
          const digest = createHash("sha256").update(Buffer.from(result.buffer, result.byteOffset, result.byteLength)).digest("hex").slice(0, 16);
          checks.push({ length, kind, mean, maxRelativeDifference, inputUnchanged, digest });
        }
      }
      const root = worldSize - 1;
      const broadcastLength = 300_001;
      const broadcast = await collectives.broadcast(rank === root ? valuesOf(99, root, broadcastLength, "floats") : undefined, root);
      const broadcastMatches = Buffer.from(broadcast.buffer, broadcast.byteOffset, broadcast.byteLength).equals(Buffer.from(valuesOf(99, root, broadcastLength, "floats").buffer));
      await collectives.barrier();
      // This process's established tcp connections (its socket inodes matched in its namespace's table).
      const inodes = new Set(
        readdirSync("/proc/self/fd").flatMap((fd) => {
          try {
            const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
            return match?.[1] === undefined ? [] : [match[1]];
          } catch {
            return [];
          }
        }),
      );
      const ipOf = (hex: string): string => [hex.slice(6, 8), hex.slice(4, 6), hex.slice(2, 4), hex.slice(0, 2)].map((byte) => String(parseInt(byte, 16))).join(".");
      const tcpPeers = readFileSync("/proc/net/tcp", "utf8")
        .split("\n")
        .slice(1)
        .map((line) => line.trim().split(/\s+/))
        .filter((fields) => fields[3] === "01" && inodes.has(fields[9] ?? ""))
        .map((fields) => ({ local: ipOf((fields[1] ?? "").split(":")[0] ?? ""), remote: ipOf((fields[2] ?? "").split(":")[0] ?? "") }));
      return { rank, hierarchical: collectives.hierarchical, checks, broadcastMatches, tcpPeers };
    },
    { args: { lengths } },
  );
  process.stdout.write(`${JSON.stringify({ hosts, ranks })}\n`);
} finally {
  await cluster.close();
  await launcher.close();
}
