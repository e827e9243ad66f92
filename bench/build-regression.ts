/**
 * Training throughput of this build against another checkout's build, in one run: each build's
 * clusters live in a driver process of their own (bench/build-driver.ts), both stay up side by
 * side, and their runs alternate (the order flips every repeat), so that the machine's load falls
 * on both alike. Also what validation costs on this build: a run with one validation pass per
 * epoch against the same run without, next to the share of the samples that validation evaluates.
 *
 * Usage: npm run build && node dist/bench/build-regression.js --base /path/to/other/checkout
 *          [--models mlp,cnn] [--repeats 5] [--backend wasm-blas] [--workers 1,2]
 * The other checkout must be built (`npm run build`, or tsc with this repository's node_modules
 * linked) and take the same train options (MNIST built in, Adam, stepsPerEpoch).
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseBenchArgs } from "./bench-args.js";
import { validationSamples, type DriverReply, type DriverRequest } from "./build-driver.js";
import { formatNumber, median } from "./stats.js";
import type { BenchModel } from "./training-models.js";

const usage = "Usage: npm run build && node dist/bench/build-regression.js --base /path/to/other/checkout\n         [--models mlp,cnn] [--repeats 5] [--backend wasm-blas] [--workers 1,2]";

const driverScript = fileURLToPath(new URL("./build-driver.js", import.meta.url));

/** A driver process: one request at a time, one reply line each. */
class BuildDriver {
  readonly #child: ChildProcessByStdio<Writable, Readable, null>;
  readonly #lines: AsyncIterator<string>;

  constructor(readonly name: string, entry: string) {
    this.#child = spawn(process.execPath, [driverScript, entry], { stdio: ["pipe", "pipe", "inherit"] });
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async ask(request: DriverRequest): Promise<DriverReply & { ok: true }> {
    this.#child.stdin.write(`${JSON.stringify(request)}\n`);
    const next = await this.#lines.next();
    if (next.done === true) throw new Error(`the ${this.name} build's driver exited before answering ${JSON.stringify(request)}`);
    const reply = parseReply(next.value);
    if (!reply.ok) throw new Error(`the ${this.name} build failed ${JSON.stringify(request)}: ${reply.error}`);
    return reply;
  }

  /** Closes its clusters and waits for it to exit. */
  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      await this.ask({ op: "close" }).catch(() => undefined);
      this.#child.stdin.end();
      await exited;
    }
  }
}

function parseReply(line: string): DriverReply {
  const value: unknown = JSON.parse(line);
  if (typeof value !== "object" || value === null) throw new Error(`not a driver reply: ${line}`);
  const fields = new Map<string, unknown>(Object.entries(value));
  if (fields.get("ok") === false) return { ok: false, error: String(fields.get("error")) };
  const number = (name: string): number | undefined => {
    const field = fields.get(name);
    return typeof field === "number" ? field : undefined;
  };
  const samplesPerSecond = number("samplesPerSecond");
  const ms = number("ms");
  const trained = number("trained");
  return { ok: true, ...(samplesPerSecond === undefined ? {} : { samplesPerSecond }), ...(ms === undefined ? {} : { ms }), ...(trained === undefined ? {} : { trained }) };
}

function required(value: number | undefined, what: string): number {
  if (value === undefined) throw new Error(`the driver's reply has no ${what}`);
  return value;
}

const { values } = parseBenchArgs(usage, {
  options: {
    base: { type: "string" },
    models: { type: "string", default: "mlp,cnn" },
    repeats: { type: "string", default: "5" },
    backend: { type: "string", default: "wasm-blas" },
    workers: { type: "string", default: "1,2" },
  },
});
if (values.base === undefined) throw new Error("--base names the other checkout, e.g. --base ../ringbook-previous (built with npm run build)");
const models = values.models.split(",").map((name): BenchModel => {
  if (name !== "mlp" && name !== "cnn") throw new Error(`--models takes mlp and cnn, got ${JSON.stringify(name)}`);
  return name;
});
const repeats = Number(values.repeats);
if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be a positive integer, got ${JSON.stringify(values.repeats)}`);
const backend = values.backend;
if (backend !== "wasm-blas" && backend !== "wasm") throw new Error(`--backend takes wasm-blas or wasm, got ${JSON.stringify(backend)}`);
const worlds = values.workers.split(",").map((text) => {
  const workers = Number(text);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers takes positive integers, got ${JSON.stringify(text)}`);
  return workers;
});

const builds = {
  this: new BuildDriver("this", new URL("../lib/index.js", import.meta.url).href),
  base: new BuildDriver("base", pathToFileURL(join(resolve(values.base), "dist/lib/index.js")).href),
};
const results = new Map<string, number[]>();
const record = (key: string, value: number): void => {
  results.set(key, [...(results.get(key) ?? []), value]);
};
const loads: number[] = [];
const largest = Math.max(...worlds);
try {
  for (const workers of worlds) {
    for (const driver of Object.values(builds)) await driver.ask({ op: "launch", workers, backend });
  }
  for (const model of models) {
    // Warm-up: module loading, wasm compilation, BLAS buffers.
    for (const workers of worlds) for (const driver of Object.values(builds)) await driver.ask({ op: "throughput", model, workers });
    for (let i = 0; i < repeats; i++) {
      loads.push(loadavg()[0] ?? Number.NaN);
      const order = i % 2 === 0 ? [builds.this, builds.base] : [builds.base, builds.this];
      for (const workers of worlds) {
        for (const driver of order) record(`${model}:${driver.name}:${workers}`, required((await driver.ask({ op: "throughput", model, workers })).samplesPerSecond, "samplesPerSecond"));
      }
      // Validation's cost, on this build's largest world.
      const plain = await builds.this.ask({ op: "timed", model, workers: largest, validate: false });
      const validated = await builds.this.ask({ op: "timed", model, workers: largest, validate: true });
      const validatedMs = required(validated.ms, "ms");
      record(`${model}:validation time share`, (validatedMs - required(plain.ms, "ms")) / validatedMs);
      record(`${model}:validation sample share`, validationSamples / (validationSamples + required(validated.trained, "trained")));
    }
  }
} finally {
  for (const driver of Object.values(builds)) await driver.close();
}

console.log(`\ntraining throughput of this build against ${values.base}, samples/s: medians of ${repeats} interleaved repeats on ${backend}, steady state after warm-up`);
console.log(`${cpus().length} cores; 1-minute load average at the repeats' starts: ${loads.map((load) => load.toFixed(1)).join(", ")}`);
console.log(`${"model".padEnd(6)}${"workers".padEnd(9)}${"this".padStart(9)}${"base".padStart(9)}${"this/base".padStart(11)}`);
const verdicts: string[] = [];
for (const model of models) {
  for (const workers of worlds) {
    const mine = median(results.get(`${model}:this:${workers}`) ?? []);
    const theirs = median(results.get(`${model}:base:${workers}`) ?? []);
    console.log(`${model.padEnd(6)}${String(workers).padEnd(9)}${formatNumber(mine).padStart(9)}${formatNumber(theirs).padStart(9)}${`${formatNumber(mine / theirs)}x`.padStart(11)}`);
    verdicts.push(`${mine >= 0.95 * theirs ? "pass" : "FAIL"}  ${model}, ${workers} worker(s): within 5% of the base build or faster (${formatNumber(mine / theirs)}x)`);
  }
}
console.log(`\nvalidation (one pass over ${validationSamples} MNIST test digits per epoch, ${largest} worker(s)): the share of a run's wall time it adds, against its share of the samples evaluated`);
for (const model of models) {
  const time = median(results.get(`${model}:validation time share`) ?? []);
  const samples = median(results.get(`${model}:validation sample share`) ?? []);
  console.log(`${model.padEnd(6)} time ${(100 * time).toFixed(1)}%, samples ${(100 * samples).toFixed(1)}%`);
  verdicts.push(`${time <= samples ? "pass" : "FAIL"}  ${model}: validation costs no more than its share of the samples evaluated (${(100 * time).toFixed(1)}% of the time for ${(100 * samples).toFixed(1)}% of the samples)`);
}
console.log("");
for (const verdict of verdicts) console.log(verdict);
console.log("all samples:", JSON.stringify(Object.fromEntries([...results].map(([key, list]) => [key, list.map((value) => Math.round(value * 1000) / 1000)]))));
