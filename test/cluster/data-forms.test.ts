/**
 * Every form of `data` on real worker processes: 2 and then 4 workers (one cluster, resized) give
 * the weights and losses of single-process training in this process, on the same backend, with an
 * uneven last batch; data given as values travels to the workers, data functions and losses are
 * compiled there with ringbook's exports in scope, tf.data.Datasets are streamed there. A data
 * error fails every worker before any step; a tensor in args (of train or run) never leaves the notebook.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { useBlasBackend } from "../../lib/backend/load-blas.js";
import { useWasmBackend } from "../../lib/backend/load-wasm.js";
import { launchCluster, type Cluster } from "../../lib/index.js";
import { trainSingleProcess } from "../../lib/training/train-single-process.js";
import { flatWeights, maxAbsDifference } from "../training/train-in-process.js";
import { base, forms } from "../training/data-form-cases.js";
import { bestCpuBackend } from "./helpers.js";

/**
 * Float32 sums in another order (the ring adds per-rank gradients, the oracle sums one batch) differ
 * in the last bits; SGD over 6 steps of these small models keeps that far below this.
 */
const tolerance = 1e-5;

/** The weights of a model from cluster.model(), flat in the model's order. */
async function weightsOf(model: unknown): Promise<Float32Array> {
  assert.ok(model instanceof tf.LayersModel);
  const values = await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
  model.dispose();
  const out = new Float32Array(values.reduce((n, v) => n + v.length, 0));
  let offset = 0;
  for (const v of values) {
    out.set(v, offset);
    offset += v.length;
  }
  return out;
}

describe(`every data form on a ${bestCpuBackend} cluster`, () => {
  let cluster: Cluster;
  const oracles = new Map<string, { weights: Float32Array; losses: number[] }>();
  before(async () => {
    if (bestCpuBackend === "wasm-blas") await useBlasBackend();
    else await useWasmBackend();
    for (const { name, options } of forms) {
      const alone = await trainSingleProcess(options);
      oracles.set(name, { weights: flatWeights(alone.model), losses: alone.records.map((r) => r.loss) });
    }
    cluster = await launchCluster({ workers: 2, backend: bestCpuBackend });
  });
  after(async () => {
    await cluster.close();
  });

  for (const workers of [2, 4]) {
    it(`${workers} workers give single-process training's weights and losses for every data form, with an uneven last batch`, async () => {
      if (cluster.worldSize !== workers) await cluster.resize(workers);
      for (const { name, options } of forms) {
        const result = await cluster.train({ ...options, live: false });
        const oracle = oracles.get(name)!;
        assert.equal(result.steps, 6, name);
        const losses = result.history.columns.loss;
        losses.forEach((loss, i) => assert.ok(Math.abs(loss - oracle.losses[i]!) < tolerance, `${name}, step ${i + 1}: loss ${loss} vs ${oracle.losses[i]}`));
        const difference = maxAbsDifference(await weightsOf(await cluster.model()), oracle.weights);
        assert.ok(difference < tolerance, `${name}: max |weight difference| ${difference}`);
      }
    });
  }

  it("targets that do not fit the model fail every worker before any step, naming both shapes", async () => {
    const run = cluster.train({
      ...base,
      model: ({ tf: t }) => t.sequential({ layers: [t.layers.dense({ inputShape: [2], units: 1 })] }),
      data: { xs: [[1, 2], [3, 4], [5, 6], [7, 8]], ys: [[1, 0], [0, 1], [1, 0], [0, 1]] },
      loss: "meanSquaredError",
      batchSize: 4,
      live: false,
    });
    const steps: number[] = [];
    const consumed = (async () => {
      for await (const step of run.metrics) steps.push(step.step);
    })();
    await assert.rejects(Promise.resolve(run), /targets \[n, 2\] do not match the model's output \[n, 1\]/);
    await consumed;
    assert.deepEqual(steps, []);
  });

  it("a tensor in args is refused in the notebook, before any task is sent", async () => {
    const table = tf.tensor2d([[1, 2]]);
    try {
      assert.throws(() => cluster.train({ ...forms[0]!.options, args: { table } }), /args.table is a tf.Tensor float32 \[1, 2\]: a tensor cannot travel to the workers/);
      await assert.rejects(cluster.run(() => 1, { args: { rows: [table] } }), /args.rows\[0\] is a tf.Tensor float32 \[1, 2\]: a tensor cannot travel/);
      assert.ok(cluster.describe().every((row) => row.state === "ready"), "no task was sent");
    } finally {
      table.dispose();
    }
  });
});
