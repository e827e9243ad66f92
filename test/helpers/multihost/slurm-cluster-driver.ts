/**
 * A cluster owner for the Slurm launcher's tests, run on a bed's head host (the "login node"):
 * allocates nodes, launches workers as job steps over tcp, reports where they run, an all-reduce
 * across them, the same after the last rank was restarted, and after its worker was SIGKILLed
 * during a barrier and restarted, as one JSON line; then closes the
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
const cluster = await launchCluster({ workers, transport: "tcp", networkInterface: ownerAddress, backend: "cpu", launcher, log: (line) => process.stderr.write(`${line}\n`) });
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

// SIGKILL of the last rank's worker on its host while the others wait for it in a barrier: how
// soon and how do they fail; then it is restarted once the cluster saw it die.
const [victimPid] = await cluster.run(() => process.pid, { ranks: [lastRank] });
const others = Array.from({ length: lastRank }, (_, rank) => rank);
const waiting = cluster.run(({ collectives }) => collectives.barrier(), { ranks: others }).then(
  () => "no error",
  (error: unknown) => (error instanceof Error ? error.message : String(error)),
);
await new Promise((resolve) => setTimeout(resolve, 300));
const killedAt = performance.now();
process.kill(victimPid ?? 0, "SIGKILL");
const killError = await waiting;
const killErrorMs = performance.now() - killedAt;
while (cluster.describe()[lastRank]?.state !== "dead" && performance.now() - killedAt < 10_000) await new Promise((resolve) => setTimeout(resolve, 20));
const deadAfterMs = performance.now() - killedAt;
await cluster.restart();
const afterKill = { killError, killErrorMs, deadAfterMs, host: cluster.describe()[lastRank]?.host, sums: await allReduce() };
const report = { jobId: launcher.jobId, nodes: launcher.nodes, cancelledOrphans: launcher.cancelledOrphans, hosts, sums, allocatedMs, readyMs, restarted, afterKill, describe: launcher.describe() };
process.stdout.write(`${JSON.stringify(report)}\n`);
if (hold === true) {
  setInterval(() => undefined, 60_000);
} else {
  await cluster.close();
  process.stdout.write(`${JSON.stringify({ closed: true })}\n`);
}
