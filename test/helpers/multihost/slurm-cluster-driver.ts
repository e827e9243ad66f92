/**
 * A cluster owner for the Slurm launcher's tests, run on a bed's head host (the "login node"):
 * allocates nodes, launches workers as job steps over tcp, reports where they run, an all-reduce
 * across them, and the same after the last rank was restarted, as one JSON line; then closes the
 * cluster and reports that too, or with `hold` keeps it open until it is killed.
 * Usage: slurm-cluster-driver.js '{"nodes":2,"tasksPerNode":1,"workers":2,"ownerAddress":"198.18.0.254","recordDir":"...","hold":false}'
 */
import { isJsonObject } from "../../../lib/json-guards.js";
import { launchCluster, SlurmLauncher } from "../../../lib/index.js";

const options: unknown = JSON.parse(process.argv[2] ?? "");
if (!isJsonObject(options)) throw new Error(`driver options must be a JSON object, got ${process.argv[2]}`);
const { nodes, tasksPerNode, workers, ownerAddress, recordDir, hold } = options;
if (typeof nodes !== "number" || typeof tasksPerNode !== "number" || typeof workers !== "number" || typeof ownerAddress !== "string" || typeof recordDir !== "string") {
  throw new Error(`driver options need nodes, tasksPerNode, workers, ownerAddress and recordDir: ${process.argv[2]}`);
}

const started = performance.now();
const launcher = await SlurmLauncher.open({ nodes, tasksPerNode, recordDir });
const allocatedMs = performance.now() - started;
const cluster = await launchCluster({ workers, transport: "tcp", host: ownerAddress, backend: "cpu", launcher, log: (line) => process.stderr.write(`${line}\n`) });
const readyMs = performance.now() - started;
const hosts = cluster.describe().map((row) => row.host);
const allReduce = (): Promise<number[][]> => cluster.run(async ({ collectives, rank }) => Array.from(await collectives.allReduce(new Float32Array([rank + 1, 1]))));
const sums = await allReduce();
// The last rank again, as a new step in the same allocation, on the same node.
const lastRank = cluster.worldSize - 1;
const restartStarted = performance.now();
await cluster.restart([lastRank]);
const restartMs = performance.now() - restartStarted;
const restarted = { host: cluster.describe()[lastRank]?.host, incarnation: cluster.describe()[lastRank]?.incarnation, sums: await allReduce(), restartMs };
const report = { jobId: launcher.jobId, nodes: launcher.nodes, cancelledOrphans: launcher.cancelledOrphans, hosts, sums, allocatedMs, readyMs, restarted, describe: launcher.describe() };
process.stdout.write(`${JSON.stringify(report)}\n`);
if (hold === true) {
  setInterval(() => undefined, 60_000);
} else {
  await cluster.close();
  process.stdout.write(`${JSON.stringify({ closed: true })}\n`);
}
