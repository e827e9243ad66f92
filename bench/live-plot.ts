/**
 * What the live training plot costs: training throughput of the same 2-worker run with the live
 * view on and off, in one process, repeats interleaved (off, on, on, off, ...), medians and their
 * ratio; and the owner process's CPU time per second of training, on and off, whose difference is
 * what building figures and bundles and sending display messages costs.
 *
 * The display host is the kernel's own display API (`kernel/display`) over a sink that does what
 * the kernel does with each display message: a structured clone (the cell worker's postMessage to
 * the kernel's main thread), the iopub message derived from the cell's request, serialized and
 * HMAC-signed by the kernel's wire code, and sent on a ZeroMQ PUB socket in order (the kernel's
 * SerialSender) to a SUB socket that receives every frame, as a front end's would. All of it runs
 * in this process, which stands for the kernel process (cell worker and main thread): the owner's
 * cost lands on the same two cores as the workers', as it does in a notebook. Driving a real
 * kernel would add a front end's decoding to the machine but hide where the time goes.
 *
 * Usage: npm run build && node dist/bench/live-plot.js [--repeats 5] [--steps 1000] [--fast-steps 3000]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseBenchArgs } from "./bench-args.js";
import { Publisher } from "zeromq";
import { display } from "../kernel/display/index.js";
import { toStep } from "../lib/ids.js";
import type { DisplayMessage, DisplaySink } from "../kernel/display/sink.js";
import { CommRegistry } from "../kernel/execution/worker-comms.js";
import { messageWithParent } from "../kernel/protocol/child-of.js";
import { serializeMessage } from "../kernel/protocol/frames.js";
import type { JsonObject } from "../kernel/protocol/json-guards.js";
import { MessageSigner } from "../kernel/protocol/signer.js";
import type { MessageHeader } from "../kernel/protocol/wire-types.js";
import { SerialSender } from "../kernel/sockets/serial-sender.js";
import { LiveTrainingView } from "../lib/cluster/live-training-view.js";
import { findDisplayHost } from "../lib/plots/live-display.js";
import { installNotebookHost } from "../lib/notebook-host.js";
import { launchCluster, type Cluster, type TrainOptions } from "../lib/index.js";
import { StepAggregator } from "../lib/metrics/step-summary.js";
import { TrainingHistory } from "../lib/metrics/training-history.js";
import type { StepRecord } from "../lib/training/rank-loop.js";
import { formatNumber, median } from "./stats.js";

const usage = "Usage: npm run build && node dist/bench/live-plot.js [--repeats 5] [--steps 1000] [--fast-steps 3000]";

const { values } = parseBenchArgs(usage, {
  options: {
    repeats: { type: "string", default: "5" },
    steps: { type: "string", default: "1000" },
    "fast-steps": { type: "string", default: "3000" },
  },
});
const repeats = Number(values.repeats);
const mnistSteps = Number(values.steps);
const fastSteps = Number(values["fast-steps"]);
for (const [name, value] of [["--repeats", repeats], ["--steps", mnistSteps], ["--fast-steps", fastSteps]] as const) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
}

/**
 * The front end's end of iopub, in its own process (its receiving is not the kernel's cost): a SUB
 * socket that takes every message; it prints "ready" once a probe came through, and the bytes it
 * received when its stdin closes.
 */
const frontEndScript = `
import { Subscriber } from ${JSON.stringify(createRequire(import.meta.url).resolve("zeromq"))};
const subscriber = new Subscriber({ receiveHighWaterMark: 1000 });
subscriber.connect(process.argv[1]);
subscriber.subscribe();
let bytes = 0;
let ready = false;
process.stdin.resume();
process.stdin.on("end", () => { process.stdout.write("received " + bytes + "\\n"); subscriber.close(); });
for await (const frames of subscriber) {
  if (!ready) { ready = true; process.stdout.write("ready\\n"); continue; }
  for (const frame of frames) bytes += frame.length;
}
`;

/** The kernel's iopub path for display messages, in this process, to a front end in another. */
class KernelIopub implements DisplaySink {
  readonly #publisher = new Publisher({ sendHighWaterMark: 1000 });
  readonly #sender = new SerialSender(this.#publisher, "iopub", (line) => process.stderr.write(`${line}\n`));
  readonly #signer = new MessageSigner("hmac-sha256", randomBytes(32).toString("hex"));
  readonly #session = randomUUID();
  readonly #parent: MessageHeader = { msg_id: randomUUID(), msg_type: "execute_request", session: randomUUID(), username: "bench", date: new Date().toISOString(), version: "5.3" };
  readonly #frontEnd: ChildProcess;
  #frontEndOutput = "";
  messages = 0;
  figureMessages = 0;
  sentBytes = 0;

  private constructor(frontEnd: ChildProcess) {
    this.#frontEnd = frontEnd;
    frontEnd.stdout?.on("data", (chunk: Buffer) => (this.#frontEndOutput += chunk.toString("utf8")));
  }

  static async open(dir: string): Promise<KernelIopub> {
    const endpoint = `ipc://${join(dir, "iopub")}`;
    const frontEnd = spawn(process.execPath, ["--input-type=module", "-e", frontEndScript, endpoint], { stdio: ["pipe", "pipe", "inherit"] });
    const iopub = new KernelIopub(frontEnd);
    await iopub.#publisher.bind(endpoint);
    // PUB drops what it sends before the subscription arrives: probe until the front end has one.
    const deadline = performance.now() + 10_000;
    while (!iopub.#frontEndOutput.includes("ready")) {
      if (performance.now() > deadline || frontEnd.exitCode !== null) throw new Error(`the front-end process did not subscribe (exit ${frontEnd.exitCode})`);
      await iopub.#publisher.send([Buffer.from("probe")]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return iopub;
  }

  display(message: DisplayMessage): void {
    // postMessage from the cell worker to the kernel's main thread clones the message.
    const event = structuredClone(message);
    const transient: JsonObject = event.displayId === undefined ? {} : { display_id: event.displayId };
    const content = { data: event.data as JsonObject, metadata: event.metadata as JsonObject, transient };
    const type = event.update && event.displayId !== undefined ? "update_display_data" : "display_data";
    const frames = serializeMessage([Buffer.from(`kernel.${this.#session}.${type}`)], messageWithParent(this.#parent, this.#session, type, content), this.#signer);
    this.messages++;
    if (event.data["application/vnd.plotly.v1+json"] !== undefined) this.figureMessages++;
    for (const frame of frames) this.sentBytes += frame.length;
    this.#sender.enqueue(frames);
  }

  clearOutput(): void {}

  /** Sends what is queued, then ends the front end; resolves with the bytes it received. */
  async close(): Promise<number> {
    await this.#sender.close();
    // Let the last messages reach the front end before it stops reading.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const exited = new Promise((resolve) => this.#frontEnd.once("exit", resolve));
    this.#frontEnd.stdin?.end();
    await exited;
    this.#publisher.close();
    return Number(/received (\d+)/.exec(this.#frontEndOutput)?.[1] ?? Number.NaN);
  }
}

type Mode = "off" | "on";

interface RunSample {
  mode: Mode;
  samplesPerSecond: number;
  /** Owner CPU (user + system, all threads) per second of wall time during the run. */
  ownerCpuMsPerS: number;
  /** Owner main thread busy (event loop utilization) per second of wall time. */
  ownerBusyMsPerS: number;
  wallMs: number;
  messages: number;
  figureMessages: number;
  sentBytes: number;
}

interface Workload {
  name: string;
  options: (live: boolean) => TrainOptions;
}

async function measure(cluster: Cluster, iopub: KernelIopub, workload: Workload, mode: Mode): Promise<RunSample> {
  const messagesBefore = iopub.messages;
  const figuresBefore = iopub.figureMessages;
  const bytesBefore = iopub.sentBytes;
  const cpuBefore = process.cpuUsage();
  const eluBefore = performance.eventLoopUtilization();
  const startedAt = performance.now();
  const result = await cluster.train(workload.options(mode === "on"));
  const wallMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  const elu = performance.eventLoopUtilization(eluBefore);
  return {
    mode,
    samplesPerSecond: result.samplesPerSecond,
    ownerCpuMsPerS: (cpu.user + cpu.system) / 1000 / (wallMs / 1000),
    ownerBusyMsPerS: elu.active / (wallMs / 1000),
    wallMs,
    messages: iopub.messages - messagesBefore,
    figureMessages: iopub.figureMessages - figuresBefore,
    sentBytes: iopub.sentBytes - bytesBefore,
  };
}

const tinyModel: TrainOptions["model"] = ({ tf }) =>
  tf.sequential({ layers: [tf.layers.dense({ inputShape: [16], units: 8, activation: "relu" }), tf.layers.dense({ units: 4, activation: "softmax" })] });
const mnistModel: TrainOptions["model"] = ({ tf }) =>
  tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 64, activation: "relu" }), tf.layers.dense({ units: 10, activation: "softmax" })] });

const workloads: Workload[] = [
  {
    // The notebook's training cell: MNIST, an MLP, batch 128, metrics every 100 ms.
    name: `mnist mlp 784-64-10, batch 128, ${mnistSteps} steps`,
    // The mnist package holds 10,000 digits: 78 steps an epoch at batch 128; 50 steps an epoch here.
    options: (live) => ({ model: mnistModel, data: { builtin: "mnist" }, batchSize: 128, epochs: Math.ceil(mnistSteps / 50), stepsPerEpoch: 50, metricsIntervalMs: 100, live }),
  },
  {
    // Many tiny steps: the step rate the view has to keep up with is at its highest.
    name: `synthetic 16-8-4, batch 8, ${fastSteps} steps, metrics every 20 ms`,
    options: (live) => ({ model: tinyModel, data: { builtin: "synthetic", size: 512, features: 16, classes: 4 }, batchSize: 8, epochs: Math.ceil(fastSteps / 64), stepsPerEpoch: 64, metricsIntervalMs: 20, live }),
  },
];

/**
 * The view alone, on a simulated 2-rank run (step records fed in batches as the owner receives
 * them, `stepsPerSecond` for `durationMs`): owner CPU per second with and without the view. No
 * workers compete for the cores, so this is the plot's cost with little noise.
 */
async function simulatedRun(withView: boolean, stepsPerSecond: number, durationMs: number): Promise<{ cpuMsPerS: number; busyMsPerS: number; figures: number; figureMs: number; progress: number }> {
  const history = new TrainingHistory(2);
  const aggregator = new StepAggregator(2);
  const listeners = new Set<() => void>();
  const run = {
    history,
    totalSteps: Math.round((stepsPerSecond * durationMs) / 1000),
    schedule: { epochs: 1 },
    onStep(listener: () => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  // As the library finds it in a notebook: the kernel's display API through the well-known symbol.
  const view = withView ? new LiveTrainingView(run, findDisplayHost()!) : undefined;
  const intervalMs = 20;
  const cpuBefore = process.cpuUsage();
  const eluBefore = performance.eventLoopUtilization();
  const startedAt = performance.now();
  let step = 0;
  while (performance.now() - startedAt < durationMs) {
    const until = Math.round(((performance.now() - startedAt) / 1000) * stepsPerSecond);
    for (; step < until; step++) {
      for (const rank of [0, 1]) {
        const loss = 2 * Math.exp(-step / 1000) + 0.1 * Math.random();
        const stepMs = 3 + Math.random();
        const record: StepRecord = {
          rank, step: toStep(step + 1), epoch: 0, stepInEpoch: step, stepsInEpoch: run.totalSteps, loss, localLoss: loss, samples: 4, globalSamples: 8,
          dataMs: 0.1, computeMs: 1.5 + Math.random(), communicationMs: 0.8, applyMs: 0.3, stepMs, endedAtMs: performance.timeOrigin + performance.now(), samplesPerSecond: 4000 / stepMs,
        };
        const summary = aggregator.add(record);
        if (summary === undefined) continue;
        history.add(summary);
        for (const listener of listeners) listener();
      }
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  view?.finish("done");
  const wallMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  const elu = performance.eventLoopUtilization(eluBefore);
  return { cpuMsPerS: (cpu.user + cpu.system) / 1000 / (wallMs / 1000), busyMsPerS: elu.active / (wallMs / 1000), figures: view?.figureStats.renders ?? 0, figureMs: view?.figureStats.totalMs ?? 0, progress: view?.renders ?? 0 };
}

const dir = await mkdtemp(join(tmpdir(), "ringbook-bench-live-"));
const iopub = await KernelIopub.open(dir);
const uninstallHost = installNotebookHost({
  displays: iopub,
  liveFigures: { create: () => display.create() },
  comms: new CommRegistry(() => undefined),
  cellMagics: new Map(),
  interruptHooks: new Set(),
  shutdownHooks: new Set(),
});
const cluster = await launchCluster({ workers: 2 });
try {
  {
    const stepsPerSecond = 600;
    const durationMs = 5000;
    await simulatedRun(true, stepsPerSecond, 1000);
    const off: Array<Awaited<ReturnType<typeof simulatedRun>>> = [];
    const on: Array<Awaited<ReturnType<typeof simulatedRun>>> = [];
    for (let i = 0; i < repeats; i++) {
      for (const withView of i % 2 === 0 ? [false, true] : [true, false]) {
        const result = await simulatedRun(withView, stepsPerSecond, durationMs);
        (withView ? on : off).push(result);
      }
    }
    const cpuOn = median(on.map((r) => r.cpuMsPerS));
    const cpuOff = median(off.map((r) => r.cpuMsPerS));
    const busyOn = median(on.map((r) => r.busyMsPerS));
    const busyOff = median(off.map((r) => r.busyMsPerS));
    console.log(`the view alone: a simulated 2-rank run at ${stepsPerSecond} steps/s for ${durationMs / 1000} s, ${repeats} interleaved repeats, medians`);
    console.log(`  owner main thread busy  off ${formatNumber(busyOff)} ms/s  on ${formatNumber(busyOn)} ms/s  plot ${formatNumber(busyOn - busyOff)} ms/s = ${formatNumber((busyOn - busyOff) / 10)}% of one core`);
    console.log(`  owner process CPU       off ${formatNumber(cpuOff)} ms/s  on ${formatNumber(cpuOn)} ms/s  plot ${formatNumber(cpuOn - cpuOff)} ms/s = ${formatNumber((cpuOn - cpuOff) / 10)}% of one core (all threads: GC, libuv, ZeroMQ)`);
    console.log(`  updates/s: progress line ${formatNumber(median(on.map((r) => r.progress / (durationMs / 1000))))}, figure ${formatNumber(median(on.map((r) => r.figures / (durationMs / 1000))))}; a figure update takes ${formatNumber(median(on.map((r) => r.figureMs / r.figures)))} ms (built, bundled, serialized, signed, queued)\n`);
  }
  console.log(`live plot cost: 2 workers (${(await cluster.run(({ tf }) => tf.getBackend())).join(", ")}), ${repeats} interleaved repeats per mode, medians`);
  for (const workload of workloads) {
    // Warm-up (compilation, data set loading in the workers), not counted.
    await measure(cluster, iopub, workload, "off");
    await measure(cluster, iopub, workload, "on");
    const samples: RunSample[] = [];
    for (let i = 0; i < repeats; i++) {
      const order: Mode[] = i % 2 === 0 ? ["off", "on"] : ["on", "off"];
      for (const mode of order) samples.push(await measure(cluster, iopub, workload, mode));
    }
    const of = (mode: Mode) => samples.filter((sample) => sample.mode === mode);
    const off = of("off");
    const on = of("on");
    const throughputOff = median(off.map((s) => s.samplesPerSecond));
    const throughputOn = median(on.map((s) => s.samplesPerSecond));
    // Each repeat's on/off pair ran back to back: their ratios cancel slow drifts in machine load.
    const pairRatios = Array.from({ length: repeats }, (_, i) => on[i]!.samplesPerSecond / off[i]!.samplesPerSecond);
    const cpuOff = median(off.map((s) => s.ownerCpuMsPerS));
    const cpuOn = median(on.map((s) => s.ownerCpuMsPerS));
    const busyOff = median(off.map((s) => s.ownerBusyMsPerS));
    const busyOn = median(on.map((s) => s.ownerBusyMsPerS));
    const figuresPerS = median(on.map((s) => s.figureMessages / (s.wallMs / 1000)));
    const progressPerS = median(on.map((s) => (s.messages - s.figureMessages) / (s.wallMs / 1000)));
    const bytesPerMessage = median(on.map((s) => s.sentBytes / s.messages));
    console.log(`\n${workload.name}`);
    console.log(`  samples/s   off ${formatNumber(throughputOff, 4)}  on ${formatNumber(throughputOn, 4)}  on/off ${formatNumber(throughputOn / throughputOff, 4)} (median of pair ratios ${formatNumber(median(pairRatios), 4)}; pairs ${pairRatios.map((r) => r.toFixed(3)).join(" ")})`);
    console.log(`  owner main thread busy  off ${formatNumber(busyOff)} ms/s  on ${formatNumber(busyOn)} ms/s  plot ${formatNumber(busyOn - busyOff)} ms/s = ${formatNumber((busyOn - busyOff) / 10)}% of one core`);
    console.log(`  owner process CPU       off ${formatNumber(cpuOff)} ms/s  on ${formatNumber(cpuOn)} ms/s  plot ${formatNumber(cpuOn - cpuOff)} ms/s = ${formatNumber((cpuOn - cpuOff) / 10)}% of one core`);
    console.log(`  display messages/s: progress line ${formatNumber(progressPerS)}, figure ${formatNumber(figuresPerS)}; ${formatNumber(bytesPerMessage / 1024)} KiB a message on the wire on average; run wall time ${formatNumber(median(on.map((s) => s.wallMs)) / 1000)} s`);
  }
} finally {
  await cluster.close();
  uninstallHost();
  const received = await iopub.close();
  console.log(`\nthe front-end process received ${formatNumber(received / 1024 / 1024)} MiB of the ${formatNumber(iopub.sentBytes / 1024 / 1024)} MiB sent`);
  await rm(dir, { recursive: true, force: true });
}
