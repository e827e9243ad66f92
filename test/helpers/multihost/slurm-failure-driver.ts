/**
 * A cluster owner for the failure tests, run on a bed's head host: launches 2 ranks on 2 nodes
 * through `launchCluster({ slurm })`, then freezes (SIGSTOP) or cuts off (its host's link set
 * down) rank 1's worker while both ranks wait in an all-reduce, and reports as one JSON line how
 * soon and how the all-reduce failed, then `restart()` and the all-reduce again; closes.
 * Usage: slurm-failure-driver.js '{"recordDir":"...","fault":"stop"|"linkdown","victimNamespace":"...","heartbeatTimeoutMs":3000}'
 */
import { spawnSync } from "node:child_process";
import { isJsonObject } from "../../../lib/json-guards.js";
import { launchCluster } from "../../../lib/index.js";

const options: unknown = JSON.parse(process.argv[2] ?? "");
if (!isJsonObject(options)) throw new Error(`driver options must be a JSON object, got ${process.argv[2]}`);
const { recordDir, fault, victimNamespace, heartbeatTimeoutMs } = options;
if (typeof recordDir !== "string" || (fault !== "stop" && fault !== "linkdown") || typeof victimNamespace !== "string" || typeof heartbeatTimeoutMs !== "number") {
  throw new Error(`driver options need recordDir, fault ("stop" or "linkdown"), victimNamespace and heartbeatTimeoutMs: ${process.argv[2]}`);
}

function setLink(state: "up" | "down"): void {
  const result = spawnSync("ip", ["-n", victimNamespace as string, "link", "set", "veth0", state], { encoding: "utf8", timeout: 5000 });
  if (result.status !== 0) throw new Error(`ip -n ${String(victimNamespace)} link set veth0 ${state} failed: ${result.stderr}`);
}

const started = performance.now();
const cluster = await launchCluster({ slurm: { nodes: 2, recordDir }, backend: "cpu", heartbeatIntervalMs: 250, heartbeatTimeoutMs, log: (line) => process.stderr.write(`[${(performance.now() - started).toFixed(0)} ms] ${line}\n`) });
try {
  const readyMs = performance.now() - started;
  const rows = cluster.describe();
  const allReduce = (): Promise<number[][]> => cluster.run(async ({ collectives, rank }) => Array.from(await collectives.allReduce(new Float32Array([rank + 1, 1]))));
  const sums = await allReduce();
  const ownPids = await cluster.run(() => process.pid);
  const victimPid = rows[1]?.pid ?? 0;

  // Rank 1 joins the all-reduce only after 1.5 s: the fault hits it before it sent anything, while
  // rank 0 waits inside the all-reduce for its chunks.
  const waiting = cluster.run(async ({ collectives, rank }) => {
    if (rank === 1) await new Promise((resolve) => setTimeout(resolve, 1500));
    return Array.from(await collectives.allReduce(new Float32Array([rank + 1, 1])));
  }).then(
    () => "no error",
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  const faultAt = performance.now();
  if (fault === "stop") process.kill(victimPid, "SIGSTOP");
  else setLink("down");
  // The old worker: gone (killed with its step, or exited when its owner's heartbeats stopped).
  const victimGone = (async (): Promise<number> => {
    while (performance.now() - faultAt < 15_000) {
      try {
        process.kill(victimPid, 0);
      } catch {
        return performance.now() - faultAt;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return -1;
  })();
  const error = await waiting;
  const errorMs = performance.now() - faultAt;
  if (fault === "linkdown") setLink("up");
  const deadState = cluster.describe()[1]?.state;
  const restartStarted = performance.now();
  process.stderr.write(`[${(restartStarted - started).toFixed(0)} ms] restart\n`);
  await cluster.restart();
  const restartMs = performance.now() - restartStarted;
  const after = { rows: cluster.describe(), sums: await allReduce() };
  const victimGoneMs = await victimGone;
  process.stdout.write(`${JSON.stringify({ readyMs, rows, placement: rows.placement, ownPids, sums, error, errorMs, deadState, restartMs, after, victimGoneMs })}\n`);
} finally {
  await cluster.close();
}
process.stdout.write(`${JSON.stringify({ closed: true })}\n`);
