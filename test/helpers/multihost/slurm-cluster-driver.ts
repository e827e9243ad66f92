/**
 * A cluster owner for the Slurm launcher's tests, run on a bed's head host (the "login node"):
 * allocates NODES nodes, launches WORKERS workers as job steps over tcp, reports where they run, an
 * all-reduce across them, and the same after the last rank was restarted, as one JSON line, then closes the cluster and reports that too.
 * With `hold` it keeps the cluster open after the report, until it is killed.
 * Usage: slurm-cluster-driver.js NODES TASKS_PER_NODE WORKERS OWNER_ADDRESS [hold]
 */
import { launchCluster, SlurmLauncher } from "../../../lib/index.js";

const [nodes, tasksPerNode, workers] = process.argv.slice(2, 5).map(Number);
const ownerAddress = process.argv[5] ?? "";
const started = performance.now();
const launcher = await SlurmLauncher.open({ nodes: nodes ?? 1, tasksPerNode: tasksPerNode ?? 1 });
const allocatedMs = performance.now() - started;
const cluster = await launchCluster({ workers: workers ?? 1, transport: "tcp", host: ownerAddress, backend: "cpu", launcher, log: (line) => process.stderr.write(`${line}\n`) });
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
process.stdout.write(`${JSON.stringify({ jobId: launcher.jobId, nodes: launcher.nodes, hosts, sums, allocatedMs, readyMs, restarted, describe: launcher.describe() })}\n`);
if (process.argv[6] === "hold") {
  setInterval(() => undefined, 60_000);
} else {
  await cluster.close();
  process.stdout.write(`${JSON.stringify({ closed: true })}\n`);
}
