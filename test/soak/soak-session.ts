/**
 * A researcher's day compressed: one real kernel (a child process, driven over ZeroMQ as a front
 * end does) and one warm 2-worker cluster through many iterations of training with changed
 * hyperparameters and a live plot, a `%%workers` cell, an interrupted busy cell, a checkpoint, and
 * now and then a worker killed and restarted. After each iteration it samples what must stay flat:
 * kernel and worker RSS and open file descriptors, socket directories, tensors on the workers, the
 * training speed. Used by test/soak (a short run with bounds) and bench/soak.ts (a long one).
 */
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalKernel } from "../../kernel/client/local-kernel.js";
import type { WireMessage } from "../../kernel/protocol/wire-types.js";

/** What one iteration left behind. */
export interface SoakSample {
  iteration: number;
  kernelRssMiB: number;
  kernelFds: number;
  workerPids: number[];
  workerRssMiB: number[];
  workerFds: number[];
  socketDirs: number;
  /** tf.memory().numTensors on each worker, between runs. */
  workerTensors: number[];
  /** Median training speed of the iteration's run (samples a second, all workers). */
  samplesPerSecond: number;
  /** Whether this iteration killed and restarted a worker. */
  restarted: boolean;
}

export interface SoakOptions {
  iterations?: number;
  /** Stop after this many milliseconds, whatever `iterations` says. */
  durationMs?: number;
  /** Every this many iterations a worker is killed with SIGKILL and restarted. @default 10 */
  restartEvery?: number;
  onSample?: (sample: SoakSample) => void;
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Runs the soak; resolves with every sample. Closes the kernel (and with it the cluster) on every path. */
export async function runSoak(options: SoakOptions = {}): Promise<SoakSample[]> {
  const iterations = options.iterations ?? 50;
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.durationMs;
  const restartEvery = options.restartEvery ?? 10;
  const scratch = await mkdtemp(join(tmpdir(), "ringbook-soak-"));
  const kernel = await LocalKernel.start({ cwd: scratch, env: { TMPDIR: scratch, XDG_RUNTIME_DIR: "" } });
  const samples: SoakSample[] = [];
  try {
    const run = async (code: string): Promise<{ status: string; text: string }> => {
      let text = "";
      const { reply } = await kernel.client.request(
        "shell",
        "execute_request",
        { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false },
        {
          onIopub: (message: WireMessage) => {
            const content = message.content;
            if (message.header.msg_type === "stream" && typeof content["text"] === "string") text += content["text"];
            if (message.header.msg_type === "execute_result") text += JSON.stringify(content["data"]);
            if (message.header.msg_type === "error") text += `${String(content["ename"])}: ${String(content["evalue"])}`;
          },
          signal: AbortSignal.timeout(120_000),
        },
      );
      return { status: String(reply.content["status"]), text };
    };
    const must = async (code: string): Promise<string> => {
      const { status, text } = await run(code);
      if (status !== "ok") throw new Error(`soak cell failed (${status}): ${code.split("\n")[0]}\n${text}`);
      return text;
    };
    await must(`import { launchCluster } from "ringbook";
import { mkdtemp } from "node:fs/promises";
const cluster = await launchCluster({ workers: 2 });
const checkpoints = await mkdtemp(${JSON.stringify(join(scratch, "ckpt-"))});
const medianSpeed = (history: { columns: { samplesPerSecond: number[] } }): number => {
  const speeds = [...history.columns.samplesPerSecond].sort((a, b) => a - b);
  return speeds[Math.floor(speeds.length / 2)] ?? Number.NaN;
};`);
    for (let iteration = 0; iteration < iterations && Date.now() < deadline; iteration++) {
      // First in the iteration, so that the restarted worker has trained again when it is sampled.
      const restarted = restartEvery > 0 && iteration > 0 && iteration % restartEvery === 0;
      // restart() replaces the ranks the cluster knows are dead: wait until it has seen the exit
      // (a fixed 200 ms was not always enough on a loaded machine, and the next run then failed).
      if (restarted) {
        await must(
          `process.kill(cluster.describe()[1]!.pid, "SIGKILL");\n` +
            `for (const deadline = Date.now() + 10_000; cluster.describe()[1]!.state !== "dead" && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));\n` +
            `await cluster.restart();`,
        );
      }
      const learningRate = 0.001 * (1 + (iteration % 5));
      const trained = await must(`const result = await cluster.train({
  model: ({ tf }) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [32], units: 64, activation: "relu" }), tf.layers.dense({ units: 4, activation: "softmax" })] }),
  data: { builtin: "synthetic", size: 1024, features: 32, classes: 4 },
  batchSize: 64,
  epochs: 1,
  optimizer: { name: "adam", learningRate: ${learningRate} },
  checkpoint: ${iteration % 5 === 0 ? "{ dir: checkpoints, everySteps: 8 }" : "undefined"},
  live: { title: "soak ${iteration}" },
});
console.log("SPEED " + JSON.stringify(medianSpeed(result.history)))`);
      await must(`%%workers\nconst soakSum = tf.tidy(() => tf.ones([64, 64]).sum().dataSync()[0]);\nsoakSum`);
      // An interrupted busy cell: the kernel must stop it and keep every variable.
      const busy = kernel.client.request("shell", "execute_request", { code: "while (true) {}", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false }, { signal: AbortSignal.timeout(60_000) });
      // Settled here whatever happens below, so that a failure is reported with its step, never as an unhandled rejection.
      const busyOutcome = busy.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      const interruptStarted = performance.now();
      await kernel.client.request("control", "interrupt_request", {}, { signal: AbortSignal.timeout(30_000) }).catch((error: unknown) => {
        throw new Error(`iteration ${iteration}: interrupt_request not answered after ${Math.round(performance.now() - interruptStarted)} ms: ${String(error)}`);
      });
      const busyResult = await busyOutcome;
      if (!busyResult.ok) throw new Error(`iteration ${iteration}: the interrupted busy cell did not end: ${String(busyResult.error)}`);
      const interrupted = busyResult.value;
      if (interrupted.reply.content["status"] !== "error") throw new Error(`the busy cell was not interrupted: ${JSON.stringify(interrupted.reply.content)}`);
      const state = await must(`console.log("STATE " + JSON.stringify({ pids: cluster.describe().map((row) => row.pid), tensors: await cluster.run(({ tf }) => tf.memory().numTensors) }))`);
      const parsed = JSON.parse(/STATE (.*)/.exec(state)?.[1] ?? "null") as { pids: number[]; tensors: number[] } | null;
      if (parsed === null) throw new Error(`no state printed: ${state}`);
      const samplesPerSecond = Number(JSON.parse(/SPEED (.*)/.exec(trained)?.[1] ?? "null"));
      const kernelPid = kernel.pid ?? 0;
      const sample: SoakSample = {
        iteration,
        kernelRssMiB: rssMiB(kernelPid),
        kernelFds: fdCount(kernelPid),
        workerPids: parsed.pids,
        workerRssMiB: parsed.pids.map(rssMiB),
        workerFds: parsed.pids.map(fdCount),
        socketDirs: readdirSync(scratch).filter((name) => name.startsWith("rb-")).length,
        workerTensors: parsed.tensors,
        samplesPerSecond,
        restarted,
      };
      samples.push(sample);
      options.onSample?.(sample);
    }
    await must("await cluster.close()");
    return samples;
  } finally {
    await kernel.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
