/**
 * One build's side of bench/build-regression.ts, in a process of its own (two builds in one
 * process would share zeromq.js's context, where only one ZAP handler can bind). It loads the
 * build whose `dist/lib/index.js` is its first argument, keeps its clusters, and answers one JSON
 * line per request line on stdin.
 */
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import type { TrainOptions } from "../lib/index.js";
import { benchTrainOptions, steadySamplesPerSecond, type BenchModel } from "./training-models.js";

/** The same run lengths as bench/training.ts. */
export const stepsOf: Record<BenchModel, { steps: number; warmup: number }> = { mlp: { steps: 150, warmup: 15 }, cnn: { steps: 24, warmup: 4 } };

/** MNIST's 10,000 test digits, one validation pass per epoch. */
export const validationSamples = 10_000;

export type DriverRequest =
  | { op: "launch"; workers: number; backend: "wasm-blas" | "wasm" }
  | { op: "throughput"; model: BenchModel; workers: number }
  | { op: "timed"; model: BenchModel; workers: number; validate: boolean }
  | { op: "close" };

export type DriverReply = { ok: true; samplesPerSecond?: number; ms?: number; trained?: number } | { ok: false; error: string };

/** The part of a build's cluster the benchmark drives (what every build since the MNIST built-in has). */
interface DrivenCluster {
  worldSize: number;
  train(options: TrainOptions): PromiseLike<unknown> & { metrics: AsyncIterable<{ samples: number; stepMs: number }> };
  close(): Promise<void>;
}

export function parseDriverRequest(line: string): DriverRequest {
  const value: unknown = JSON.parse(line);
  if (typeof value !== "object" || value === null || !("op" in value)) throw new Error(`not a request: ${line}`);
  const fields = new Map<string, unknown>(Object.entries(value));
  const field = (name: string): unknown => fields.get(name);
  const model = (): BenchModel => {
    const m = field("model");
    if (m !== "mlp" && m !== "cnn") throw new Error(`model must be mlp or cnn: ${line}`);
    return m;
  };
  const workers = (): number => {
    const w = field("workers");
    if (typeof w !== "number" || !Number.isInteger(w) || w < 1) throw new Error(`workers must be a positive integer: ${line}`);
    return w;
  };
  switch (field("op")) {
    case "launch": {
      const backend = field("backend");
      if (backend !== "wasm-blas" && backend !== "wasm") throw new Error(`backend must be wasm-blas or wasm: ${line}`);
      return { op: "launch", workers: workers(), backend };
    }
    case "throughput":
      return { op: "throughput", model: model(), workers: workers() };
    case "timed":
      return { op: "timed", model: model(), workers: workers(), validate: field("validate") === true };
    case "close":
      return { op: "close" };
    default:
      throw new Error(`unknown op: ${line}`);
  }
}

async function main(entry: string): Promise<void> {
  const module: unknown = await import(entry);
  const launch = typeof module === "object" && module !== null && "launchCluster" in module ? module.launchCluster : undefined;
  if (typeof launch !== "function") throw new Error(`${entry} exports no launchCluster: is it a built ringbook checkout?`);
  const clusters = new Map<number, DrivenCluster>();
  const clusterOf = (workers: number): DrivenCluster => {
    const cluster = clusters.get(workers);
    if (cluster === undefined) throw new Error(`no cluster of ${workers} worker(s) was launched`);
    return cluster;
  };
  const answer = async (request: DriverRequest): Promise<DriverReply> => {
    switch (request.op) {
      case "launch": {
        const cluster: DrivenCluster = await launch({ workers: request.workers, backend: request.backend });
        clusters.set(request.workers, cluster);
        return { ok: true };
      }
      case "throughput": {
        const { steps, warmup } = stepsOf[request.model];
        const run = clusterOf(request.workers).train(benchTrainOptions(request.model, request.workers, steps));
        const measured: Array<{ samples: number; stepMs: number }> = [];
        for await (const step of run.metrics) measured.push({ samples: step.samples, stepMs: step.stepMs });
        await run;
        return { ok: true, samplesPerSecond: steadySamplesPerSecond(measured, warmup) };
      }
      case "timed": {
        const options = benchTrainOptions(request.model, request.workers, stepsOf[request.model].steps);
        const validation = { builtin: "mnist" as const, split: "test" as const, sampleShape: request.model === "mlp" ? [784] : [28, 28, 1] };
        const started = performance.now();
        const run = clusterOf(request.workers).train(request.validate ? { ...options, validationData: validation, validationEvery: { epochs: 1 } } : options);
        let trained = 0;
        for await (const step of run.metrics) trained += step.samples;
        await run;
        return { ok: true, ms: performance.now() - started, trained };
      }
      case "close":
        for (const cluster of clusters.values()) await cluster.close();
        clusters.clear();
        return { ok: true };
    }
  };
  try {
    for await (const line of createInterface({ input: process.stdin })) {
      let reply: DriverReply;
      try {
        reply = await answer(parseDriverRequest(line));
      } catch (error) {
        reply = { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
      }
      process.stdout.write(`${JSON.stringify(reply)}\n`);
    }
  } finally {
    for (const cluster of clusters.values()) await cluster.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const entry = process.argv[2];
  if (entry === undefined) throw new Error("usage: build-driver.js file:///path/to/checkout/dist/lib/index.js");
  await main(entry);
}
