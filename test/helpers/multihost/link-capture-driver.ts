/**
 * A cluster owner on a bed's head host for the link-capture test: launches one worker per node
 * through Slurm over tcp with the given `linkEncryption`, has the ranks all-reduce a buffer filled
 * with {@link capturePattern} (made on the workers, so only the peer links carry it; the owner
 * gets back a yes/no), and prints one JSON line: the links describe() shows and whether the sums
 * were right. Rank 0 writes the secrets its worker was started with to `secretsFile` (the bed's
 * hosts share this machine's files): sent back as a task result they would cross the switch, in
 * clear with linkEncryption "none", and the test would find its own traffic. Then it closes the
 * cluster.
 * Usage: link-capture-driver.js '{"nodes":2,"ownerAddress":"198.18.0.254","recordDir":"...","linkEncryption":"curve","floats":65536,"secretsFile":"..."}'
 */
import { isJsonObject } from "../../../lib/json-guards.js";
import { launchCluster, SlurmLauncher } from "../../../lib/index.js";
import { capturePattern } from "./capture-pattern.js";

const options: unknown = JSON.parse(process.argv[2] ?? "");
if (!isJsonObject(options)) throw new Error(`driver options must be a JSON object, got ${process.argv[2]}`);
const { nodes, ownerAddress, recordDir, linkEncryption, floats, secretsFile } = options;
if (typeof nodes !== "number" || typeof ownerAddress !== "string" || typeof recordDir !== "string" || typeof floats !== "number" || typeof secretsFile !== "string" || (linkEncryption !== "curve" && linkEncryption !== "none")) {
  throw new Error(`driver options need nodes, ownerAddress, recordDir, floats, secretsFile and linkEncryption "curve" or "none": ${process.argv[2]}`);
}

const launcher = await SlurmLauncher.open({ nodes, tasksPerNode: 1, recordDir });
const cluster = await launchCluster({ workers: nodes, transport: "tcp", networkInterface: ownerAddress, backend: "cpu", launcher, linkEncryption, log: (line) => process.stderr.write(`${line}\n`) });
try {
  const links = cluster.describe().map((row) => row.link);
  const correct = await cluster.run(
    async ({ collectives, worldSize, args }) => {
      const values = new Float32Array(args.floats).map((_, i) => args.pattern[i % args.pattern.length]!);
      const sums = await collectives.allReduce(values);
      return sums.every((sum, i) => sum === Math.fround(args.pattern[i % args.pattern.length]! * worldSize));
    },
    { args: { floats, pattern: [...capturePattern] } },
  );
  // What the workers were told at start, for the test to look for in the capture: written on the
  // worker's host, never returned over the (maybe unencrypted) link.
  await cluster.run(
    async ({ args }) => {
      const { workerData } = await import("node:worker_threads");
      const { writeFileSync } = await import("node:fs");
      writeFileSync(args.secretsFile, JSON.stringify({ secretHex: workerData.secretHex, curveKeys: workerData.curveKeys }), { mode: 0o600 });
    },
    { ranks: [0], args: { secretsFile } },
  );
  process.stdout.write(`${JSON.stringify({ links, correct })}\n`);
} finally {
  await cluster.close();
}
