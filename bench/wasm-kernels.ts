// Training throughput of tfjs's wasm backend with ringbook's composed gradient kernels, against the
// cpu backend, all in one process. Usage (after `npm run build`):
//   node dist/bench/wasm-kernels.js [--cpu-cnn-steps N] [--skip-cpu-cnn]
import { parseBenchArgs } from "./bench-args.js";

import * as tf from "@tensorflow/tfjs";

import { useWasmBackend } from "../lib/backend/load-wasm.js";
import { registerMissingWasmKernels } from "../lib/backend/wasm-kernels/index.js";
import { benchModels, perProcessBatch } from "./training-models.js";

const usage = "Usage: npm run build && node dist/bench/wasm-kernels.js [--cpu-cnn-steps N] [--skip-cpu-cnn]";

interface Workload {
  name: string;
  build: () => tf.Sequential;
  inputShape: number[];
  batch: number;
}

const mlp: Workload = { name: `MLP 784-256-256-10, batch ${perProcessBatch.mlp}`, inputShape: [784], batch: perProcessBatch.mlp, build: () => benchModels.mlp({ tf }) };
const cnn: Workload = { name: `CNN conv32-pool-conv64-pool-dense128, batch ${perProcessBatch.cnn}`, inputShape: [28, 28, 1], batch: perProcessBatch.cnn, build: () => benchModels.cnn({ tf }) };

/** One model on one backend, ready to take Adam steps on a fixed synthetic batch. */
class TrainingRun {
  readonly #model: tf.Sequential;
  readonly #optimizer = tf.train.adam(1e-3);
  readonly #xs: tf.Tensor;
  readonly #labels: tf.Tensor;

  constructor(workload: Workload) {
    this.#model = workload.build();
    this.#xs = tf.randomNormal([workload.batch, ...workload.inputShape]);
    this.#labels = tf.tidy(() => tf.oneHot(tf.randomUniform([workload.batch], 0, 10, "int32"), 10).toFloat());
  }

  /** One Adam step; returns its duration. wasm and cpu run kernels synchronously, so the clock is honest. */
  step(): number {
    const started = performance.now();
    tf.tidy(() => {
      this.#optimizer.minimize(() => tf.losses.softmaxCrossEntropy(this.#labels, tf.log(this.#model.apply(this.#xs, { training: true }) as tf.Tensor)));
    });
    return performance.now() - started;
  }

  dispose(): void {
    tf.dispose([this.#xs, this.#labels]);
    this.#optimizer.dispose();
    this.#model.dispose();
  }
}

interface Measurement {
  label: string;
  backend: "wasm" | "cpu";
  samplesPerSecond: number;
  medianStepMs: number;
  steps: number;
}

async function measure(label: string, backend: "wasm" | "cpu", workload: Workload, warmupSteps: number, timedSteps: number): Promise<Measurement> {
  await tf.setBackend(backend);
  const run = new TrainingRun(workload);
  try {
    for (let i = 0; i < warmupSteps; i++) run.step();
    const durationsMs = Array.from({ length: timedSteps }, () => run.step()).sort((a, b) => a - b);
    const medianStepMs = durationsMs[Math.floor(durationsMs.length / 2)] ?? Number.NaN;
    const result = { label, backend, samplesPerSecond: (workload.batch * 1000) / medianStepMs, medianStepMs, steps: timedSteps };
    console.log(`${label.padEnd(100)} ${backend.padEnd(5)} ${result.samplesPerSecond.toFixed(1).padStart(9)} samples/s  (median step ${medianStepMs.toFixed(1)} ms of ${timedSteps})`);
    return result;
  } finally {
    run.dispose();
  }
}

/** Where one wasm CNN step spends its time, per kernel (composed kernels count as one). */
async function profileWasmStep(workload: Workload): Promise<void> {
  await tf.setBackend("wasm");
  const run = new TrainingRun(workload);
  try {
    for (let i = 0; i < 2; i++) run.step();
    const profile = await tf.profile(() => {
      run.step();
    });
    const byKernel = new Map<string, { ms: number; calls: number }>();
    for (const kernel of profile.kernels) {
      const entry = byKernel.get(kernel.name) ?? { ms: 0, calls: 0 };
      entry.ms += typeof kernel.kernelTimeMs === "number" ? kernel.kernelTimeMs : 0;
      entry.calls++;
      byKernel.set(kernel.name, entry);
    }
    const totalMs = [...byKernel.values()].reduce((sum, e) => sum + e.ms, 0);
    console.log(`\nwasm CNN step by kernel, composed kernels (tf.profile, total kernel time ${totalMs.toFixed(1)} ms):`);
    for (const [name, { ms, calls }] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) {
      console.log(`  ${name.padEnd(24)} ${ms.toFixed(1).padStart(7)} ms  ${((100 * ms) / totalMs).toFixed(1).padStart(5)}%  ${calls} call(s)`);
    }
  } finally {
    run.dispose();
  }
}

async function main(): Promise<void> {
  const { values } = parseBenchArgs(usage, {
    options: {
      "cpu-cnn-steps": { type: "string", default: "3" },
      "skip-cpu-cnn": { type: "boolean", default: false },
    },
  });
  const cpuCnnSteps = Number(values["cpu-cnn-steps"]);
  if (!Number.isInteger(cpuCnnSteps) || cpuCnnSteps < 1) throw new Error(`--cpu-cnn-steps must be a positive integer, got ${values["cpu-cnn-steps"]}`);

  await tf.setBackend("cpu");
  // Keep wasm's own Conv2DBackpropInput to measure with it too, before the faster one replaces it.
  await useWasmBackend({ replaceSlowKernels: false });
  console.log(`tfjs ${tf.version.tfjs}, Node ${process.version}; medians after warm-up; synthetic data, Adam\n`);

  const own = "wasm's own Conv2DBackpropInput + BatchMatMul";
  const composed = "composed Conv2DBackpropInput + BatchMatMul";
  const mlpOwn = await measure(`${mlp.name}, ${own}`, "wasm", mlp, 3, 15);
  const cnnOwn = await measure(`${cnn.name}, ${own}`, "wasm", cnn, 2, 7);
  registerMissingWasmKernels({ replaceSlowKernels: true });
  const mlpWasm = await measure(`${mlp.name}, ${composed}`, "wasm", mlp, 3, 15);
  const cnnWasm = await measure(`${cnn.name}, ${composed}`, "wasm", cnn, 2, 7);
  const mlpCpu = await measure(mlp.name, "cpu", mlp, 2, 7);
  const results = [mlpOwn, cnnOwn, mlpWasm, cnnWasm, mlpCpu];
  const cnnCpu = values["skip-cpu-cnn"] ? undefined : await measure(cnn.name, "cpu", cnn, 1, cpuCnnSteps);
  if (cnnCpu) results.push(cnnCpu);
  await profileWasmStep(cnn);

  const ratio = (a: Measurement, b: Measurement): string => `${(a.samplesPerSecond / b.samplesPerSecond).toFixed(2)}x`;
  console.log("\nratios (same run):");
  console.log(`  MLP wasm composed / cpu:                 ${ratio(mlpWasm, mlpCpu)}`);
  console.log(`  MLP wasm composed / wasm own kernels:    ${ratio(mlpWasm, mlpOwn)}`);
  if (cnnCpu) console.log(`  CNN wasm composed / cpu (baseline):      ${ratio(cnnWasm, cnnCpu)}`);
  if (cnnCpu) console.log(`  CNN wasm own kernels / cpu (baseline):   ${ratio(cnnOwn, cnnCpu)}`);
  console.log(`  CNN wasm composed / wasm own kernels:    ${ratio(cnnWasm, cnnOwn)}`);
  console.log(`\n${JSON.stringify({ results })}`);
}

await main();
