/**
 * The `tf` ringbook's modules and tasks get (lib/tfjs.cts): `@tensorflow/tfjs`, loaded with its
 * converter and webgl backend deferred to their first use (lib/tfjs-first-load.cts), and the same
 * to its users as the union loaded plainly.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { launchCluster } from "../../lib/index.js";
import { runProcess } from "../helpers/run-process.js";

const tfjsModule = fileURLToPath(new URL("../../lib/tfjs.cjs", import.meta.url));

/** Runs `body` in a fresh Node process (CommonJS, `loaded()` lists the tfjs packages loaded); returns its last line, parsed. */
async function inFreshProcess(body: string): Promise<unknown> {
  const script = `const loaded = () => [...new Set(Object.keys(require.cache).flatMap((file) => /node_modules\\/@tensorflow\\/([^/]+)\\/.*\\.js$/.exec(file)?.[1] ?? []))].sort();
${body}`;
  const result = await runProcess(process.execPath, ["--input-type=commonjs", "-e", script], { cwd: fileURLToPath(new URL("../../..", import.meta.url)) });
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "");
}

const atStart = ["tfjs", "tfjs-backend-cpu", "tfjs-core", "tfjs-data", "tfjs-layers"];

describe("ringbook's tfjs", () => {
  it("starts without the converter and the webgl backend, and loads each at the first read of one of its names", async () => {
    const steps = await inFreshProcess(`const tf = require(${JSON.stringify(tfjsModule)});
const steps = [loaded()];
tf.version; steps.push(loaded());
tf.loadGraphModel; steps.push(loaded());
tf.webgl; steps.push(loaded());
console.log(JSON.stringify(steps));`);
    assert.deepEqual(steps, [atStart, atStart, [...atStart, "tfjs-converter"].sort(), [...atStart, "tfjs-backend-webgl", "tfjs-converter"].sort()]);
  });

  it("has the union's names in its order, the deferred packages' values and versions, gradients and chained ops", async () => {
    const plain = await inFreshProcess(`const tf = require("@tensorflow/tfjs");
console.log(JSON.stringify({ names: Object.getOwnPropertyNames(tf), version: tf.version }));`);
    const deferred = await inFreshProcess(`const tf = require(${JSON.stringify(tfjsModule)});
const names = Object.getOwnPropertyNames(tf);
const packages = ["@tensorflow/tfjs-converter", "@tensorflow/tfjs-backend-webgl"].map((name) => require(name));
console.log(JSON.stringify({
  names,
  version: tf.version,
  differing: packages.flatMap((real) => Object.keys(real).filter((name) => tf[name] !== real[name])),
  gradient: tf.grad((x) => x.square())(tf.scalar(3)).dataSync()[0],
  chained: tf.tensor1d([1, 2]).mul(tf.scalar(3)).arraySync(),
  data: tf.data.array([1, 2]).size,
}));`);
    assert.ok(typeof plain === "object" && plain !== null && "names" in plain && "version" in plain);
    assert.deepEqual(deferred, { names: plain.names, version: plain.version, differing: [], gradient: 6, chained: [3, 6], data: 2 });
  });

  it("in a task: the worker started without them; loadGraphModel, tf.data and tf.version work", async () => {
    const cluster = await launchCluster({ workers: 1 });
    try {
      const [report] = await cluster.run(async ({ tf }) => {
        const { createRequire } = await import("node:module");
        const loaded = (): string[] =>
          [...new Set(Object.keys(createRequire("/").cache).flatMap((file) => /node_modules\/@tensorflow\/([^/]+)\/.*\.js$/.exec(file)?.[1] ?? []))].sort();
        const before = loaded();
        const doubled = await tf.data.array([1, 2, 3]).map((x: number) => x * 2).toArray();
        return { before, doubled, version: tf.version["tfjs-converter"], loadGraphModel: typeof tf.loadGraphModel, after: loaded() };
      });
      assert.ok(report !== undefined);
      assert.deepEqual(report.doubled, [2, 4, 6]);
      assert.equal(report.version, "4.22.0");
      assert.equal(report.loadGraphModel, "function");
      for (const late of ["tfjs-converter", "tfjs-backend-webgl"]) assert.ok(!report.before.includes(late), `${late} was loaded at start: ${report.before.join(", ")}`);
      assert.ok(report.after.includes("tfjs-converter"), report.after.join(", "));
    } finally {
      await cluster.close();
    }
  });
});
