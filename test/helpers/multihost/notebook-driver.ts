/**
 * A researcher's session on a multi-host cluster, for the bed's notebook test: run on the bed's
 * head host (the login node), it starts a real ringbook kernel there and drives it over ZeroMQ as
 * a front end does. The cells launch workers as Slurm job steps on the bed's hosts, run a
 * `%%workers` cell, train with a live plot and compare with single-process training on the same
 * global batches, write and read a checkpoint, and get a busy cell on every worker interrupted.
 * The driver prints what it saw as one JSON line, then SIGKILLs the kernel (as an OOM killer
 * would) and prints its pid and the time, so that the test can check that no worker outlives it.
 * Run it with TMPDIR in the bed's state directory: the kernel's files stay there.
 * Usage: notebook-driver.js '{"nodes":2,"tasksPerNode":2,"recordDir":"...","scratch":"..."}'
 */
import { LocalKernel } from "../../../kernel/client/local-kernel.js";
import type { WireMessage } from "../../../kernel/protocol/wire-types.js";
import { isJsonObject } from "../../../lib/json-guards.js";

const options: unknown = JSON.parse(process.argv[2] ?? "");
if (!isJsonObject(options)) throw new Error(`driver options must be a JSON object, got ${process.argv[2]}`);
const { nodes, tasksPerNode, recordDir, scratch } = options;
if (typeof nodes !== "number" || typeof tasksPerNode !== "number" || typeof recordDir !== "string" || typeof scratch !== "string") {
  throw new Error(`driver options need nodes, tasksPerNode, recordDir and scratch: ${process.argv[2]}`);
}

/** What one cell produced on iopub, by kind. */
interface CellOutcome {
  status: string;
  text: string;
  /** msg_type of every iopub message with output (stream, display_data, update_display_data, ...). */
  kinds: string[];
  /** MIME types of displays and their updates. */
  mimeTypes: string[];
  ms: number;
}

const kernel = await LocalKernel.start({ cwd: scratch, env: { TMPDIR: scratch }, onStderr: (text) => process.stderr.write(text) });

function execute(code: string, timeoutMs = 180_000): { outcome: Promise<CellOutcome> } {
  const outcome: CellOutcome = { status: "", text: "", kinds: [], mimeTypes: [], ms: 0 };
  const started = performance.now();
  const onIopub = (message: WireMessage): void => {
    const kind = message.header.msg_type;
    const content = message.content;
    if (kind === "status" || kind === "execute_input") return;
    outcome.kinds.push(kind);
    if (kind === "stream" && typeof content["text"] === "string") outcome.text += content["text"];
    if (kind === "error") outcome.text += `${String(content["ename"])}: ${String(content["evalue"])}\n`;
    const data = content["data"];
    if (isJsonObject(data)) {
      outcome.mimeTypes.push(...Object.keys(data));
      if (kind === "execute_result" && typeof data["text/plain"] === "string") outcome.text += `${data["text/plain"]}\n`;
    }
  };
  const request = kernel.client.request(
    "shell",
    "execute_request",
    { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false },
    { onIopub, signal: AbortSignal.timeout(timeoutMs) },
  );
  return {
    outcome: request.then(({ reply }) => ({ ...outcome, status: String(reply.content["status"]), ms: performance.now() - started })),
  };
}

async function must(code: string): Promise<CellOutcome> {
  const outcome = await execute(code).outcome;
  if (outcome.status !== "ok") throw new Error(`cell failed (${outcome.status}): ${code.split("\n")[0]}\n${outcome.text}`);
  return outcome;
}

/** The value a cell printed as `KEY <json>`. */
function printed(outcome: CellOutcome, key: string): unknown {
  const line = outcome.text.split("\n").find((candidate) => candidate.startsWith(`${key} `));
  if (line === undefined) throw new Error(`the cell printed no ${key} line:\n${outcome.text}`);
  return JSON.parse(line.slice(key.length + 1));
}

let killed = false;
try {
  const workers = nodes * tasksPerNode;
  // The user's shape: the cluster allocates its nodes and picks the interface they reach.
  const launch = await must(`import { launchCluster, trainSingleProcess, loadModel, type TrainOptions, type TrainedModel } from "ringbook";
import { join } from "node:path";
const cluster = await launchCluster({ slurm: { nodes: ${nodes}, tasksPerNode: ${tasksPerNode}, recordDir: ${JSON.stringify(recordDir)} }, backend: "cpu" });
const described = cluster.describe();
console.log("HOSTS " + JSON.stringify(described.map((row) => row.host)));
console.log("STEPS " + JSON.stringify(described.map((row) => row.slurmStep)));
console.log("NETWORK " + JSON.stringify(described.placement?.network));`);

  // Each rank answers with the name of the host it runs on.
  const workersCell = await must(`%%workers\nimport { hostname } from "node:os";\nhostname()`);

  const training = await must(`const options: TrainOptions = {
  model: ({ tf }) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [12], units: 16, activation: "relu" }), tf.layers.dense({ units: 4, activation: "softmax" })] }),
  data: { builtin: "synthetic", size: 212, features: 12, classes: 4, seed: 3 },
  optimizer: { name: "adam", learningRate: 0.01 },
  batchSize: 40,
  epochs: 2,
  seed: 11,
};
const checkpointDir = join(${JSON.stringify(scratch)}, "checkpoint");
const result = await cluster.train({ ...options, live: { title: "on ${nodes} hosts" }, checkpoint: { dir: checkpointDir, everySteps: 4 } });
const alone = await trainSingleProcess(options);
const weightsOf = async (model: TrainedModel): Promise<Float32Array[]> => {
  const values = await Promise.all(model.getWeights().map((tensor) => tensor.data() as Promise<Float32Array>));
  model.dispose();
  return values;
};
const maxDifference = (a: Float32Array[], b: Float32Array[]): number => a.reduce((worst, values, i) => values.reduce((w, value, j) => Math.max(w, Math.abs(value - b[i]![j]!)), worst), a.length === b.length ? 0 : Infinity);
const distributed = await weightsOf(await cluster.model());
console.log("TRAINED " + JSON.stringify({
  steps: result.steps,
  backend: result.backend,
  weightDifference: maxDifference(distributed, await weightsOf(await alone.trainedModel())),
  lossDifference: Math.max(...result.history.columns.loss.map((loss, i) => Math.abs(loss - alone.records[i]!.loss))),
  checkpointDifference: maxDifference(distributed, await weightsOf(await loadModel(checkpointDir))),
}));`);

  // A busy cell on every worker, interrupted from the front end: the cell fails, the workers stay.
  const busy = execute(`await cluster.run(async () => { for (;;) await new Promise((resolve) => setTimeout(resolve, 20)); });`);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const interruptedAt = performance.now();
  await kernel.interrupt({ signal: AbortSignal.timeout(10_000) });
  const interrupted = await busy.outcome;
  const interruptMs = performance.now() - interruptedAt;
  const afterInterrupt = await must(`%%workers\n6 * 7`);
  const pids = await must(`console.log("PIDS " + JSON.stringify(cluster.describe().map((row) => row.pid)));`);

  const report = {
    hosts: printed(launch, "HOSTS"),
    slurmSteps: printed(launch, "STEPS"),
    network: printed(launch, "NETWORK"),
    workersCellText: workersCell.text,
    trained: printed(training, "TRAINED"),
    trainingOutputKinds: [...new Set(training.kinds)],
    trainingMimeTypes: [...new Set(training.mimeTypes)],
    interrupted: { status: interrupted.status, text: interrupted.text, interruptMs },
    afterInterruptText: afterInterrupt.text,
    workerPids: printed(pids, "PIDS"),
    kernelPid: kernel.pid,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  // The kernel dies without a word; its workers and job must not outlive it.
  process.kill(kernel.pid ?? 0, "SIGKILL");
  killed = true;
  await kernel.exited;
  process.stdout.write(`${JSON.stringify({ killedAt: Date.now() })}\n`);
} finally {
  // Not after the SIGKILL: close() reaps what the kernel started, which is what the test checks
  // happens without it; only the client's sockets are closed. The kernel's files are in TMPDIR,
  // the bed's directory.
  if (killed) await kernel.client.close();
  else await kernel.close();
}
