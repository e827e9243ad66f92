/**
 * The cluster from notebook cells, on the kernel's real executor: `import { launchCluster } from
 * "ringbook"`, `%%workers` cells, worker output in the cell that ran the task (not the cell that
 * launched the cluster), and the notebook's interrupt reaching busy workers.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { CellEvent } from "../../kernel/execution/executor.js";
import { openNotebook, resultText, type TestNotebook } from "../execution/helpers.js";
import { bestCpuBackend, waitForExit } from "./helpers.js";

/** The display events of one cell, in order. */
function displaysOf(nb: TestNotebook, cellId: string): Array<CellEvent & { kind: "display" }> {
  return nb.eventsOf(cellId).filter((event): event is CellEvent & { kind: "display" } => event.kind === "display");
}

describe("clusters in notebook cells", () => {
  let nb: TestNotebook;
  before(async () => {
    nb = await openNotebook();
  });
  after(async () => {
    await nb.close();
  });

  it("launches from a cell, runs %%workers cells with persistent declarations, attributes output to the running cell", async () => {
    const launched = await nb.run('import { launchCluster } from "ringbook";\nconst cluster = await launchCluster({ workers: 2 });\ncluster.describe()');
    assert.equal(launched.status, "ok", JSON.stringify(launched));
    assert.match(resultText(launched), new RegExp(`rank\\s+pid\\s+host\\s+backend\\s+device\\s+link\\s+state\\n0\\s+\\d+\\s+\\S+\\s+${bestCpuBackend}\\s+cpu\\s+ipc\\s+ready`));

    const declared = await nb.run('%%workers\nconst scale: number = (rank + 1) * 10;\nconsole.log(`scale ${scale}`);\nscale');
    assert.equal(resultText(declared), "[ 10, 20 ]");
    assert.match(nb.streamOf(declared.cellId), /\[rank 0\] scale 10\n/);
    assert.match(nb.streamOf(declared.cellId), /\[rank 1\] scale 20\n/);
    assert.equal(nb.streamOf(launched.cellId), "", "nothing leaked into the launching cell");

    const later = await nb.run("%%workers 1\nscale + 1");
    assert.equal(resultText(later), "[ 21 ]");
    const ran = await nb.run("await cluster.run(({ rank }) => { console.error(`err ${rank}`); return rank; })");
    assert.equal(resultText(ran), "[ 0, 1 ]");
    assert.match(nb.streamOf(ran.cellId, "stderr"), /\[rank 0\] err 0\n/);
  });

  it("an error in a %%workers cell or a task shows each failed rank's frames, with the cell's line and column", async () => {
    const failed = await nb.run("%%workers\nconst fine: number = 1;\nconst broken = (undefined as any).boom;");
    assert.ok(failed.status === "error");
    const traceback = failed.traceback.join("\n");
    assert.match(traceback, /\[rank 0\]\s+at workers-cell-\d+ line 2:35/);
    assert.match(traceback, /\[rank 1\]\s+at workers-cell-\d+ line 2:35/);
    assert.doesNotMatch(traceback, /dist\/lib\//, "no frame inside ringbook");
    const task = await nb.run("await cluster.run(({ rank }) => { if (rank === 1) throw new RangeError('only rank 1'); return rank; })");
    assert.ok(task.status === "error");
    // The function's frame is a frame of the cell that wrote it.
    assert.match(task.traceback.join("\n"), /\[rank 1\]\s+at In\[\d+\] line 1:57/, task.traceback.join("\n"));
    // Also a typed function defined in an earlier cell: its line and column in that cell (only it has a third line).
    const defined = await nb.run("const job = async ({ rank }: { rank: number }) => {\n  const n: number = rank * 2;\n  if (rank === 1) throw new RangeError(`bad ${n}`);\n  return n;\n};");
    assert.equal(defined.status, "ok");
    const later = await nb.run("await cluster.run(job)");
    assert.ok(later.status === "error");
    const laterTraceback = later.traceback.join("\n");
    assert.match(laterTraceback, /\[rank 1\]\s+at (job )?\(?In\[\d+\] line 3:25/, laterTraceback);
    assert.doesNotMatch(laterTraceback, /task:\d+:\d+/, laterTraceback);
  });

  it("trains from a cell, brings the model back, and importing ringbook leaves the notebook's tfjs usable", async () => {
    const plain = await nb.run('import * as tf from "@tensorflow/tfjs";\ntf.tensor([1, 2, 3]).sum().dataSync()[0]');
    assert.equal(resultText(plain), "6", JSON.stringify(plain));
    const trained = await nb.run(
      "const result = await cluster.train({ model: ({ tf }) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] }), data: { builtin: 'synthetic', size: 64, features: 4, classes: 3 }, batchSize: 16, epochs: 2 });\nconst model = await cluster.model();\n[result.steps, model.countParams()]",
    );
    assert.equal(resultText(trained), "[ 8, 15 ]", JSON.stringify(trained));
    const kinds = nb.eventsOf(trained.cellId).map((event) => (event.kind === "display" ? Object.keys(event.data).sort().join(",") : event.kind));
    assert.ok(kinds.some((kind) => kind.includes("application/vnd.plotly.v1+json")), `the live plot is shown in the training cell: ${kinds.join(" | ")}`);
  });

  it("a run started without await shows its progress line and figure before its cell ends; awaited in the next cell, it ends on done: with the static image", async () => {
    const started = await nb.run(
      "const later = cluster.train({ model: ({ tf }) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] }), data: { builtin: 'synthetic', size: 64, features: 4, classes: 3 }, batchSize: 16, epochs: 2 });",
    );
    assert.equal(started.status, "ok", JSON.stringify(started));
    // Taken as the cell's outcome arrives: the two displays train() showed before its cell ended
    // (steps may have updated them since).
    const beforeEnd = displaysOf(nb, started.cellId).slice(0, 2);
    assert.deepEqual(beforeEnd.map((display) => display.update), [false, false], `two displays shown before the cell ended: ${JSON.stringify(beforeEnd).slice(0, 500)}`);
    assert.match(String(beforeEnd[0]!.data["text/plain"]), /^starting: waiting for the first step$/);
    assert.ok(beforeEnd[1]!.data["application/vnd.plotly.v1+json"] !== undefined && String(beforeEnd[1]!.data["image/svg+xml"]).startsWith("<svg "), "the figure, with its static image");

    const awaited = await nb.run("(await later).steps");
    assert.equal(resultText(awaited), "8", JSON.stringify(awaited));
    assert.deepEqual(displaysOf(nb, awaited.cellId), [], "the awaiting cell shows nothing of the run");
    const all = displaysOf(nb, started.cellId);
    const last = (id: string | undefined) => all.filter((display) => display.displayId === id).at(-1)!;
    assert.match(String(last(beforeEnd[0]!.displayId).data["text/plain"]), /^done: step 8\/8 · epoch 2\/2 · loss /, "the final state goes to the starting cell's progress line");
    const figure = last(beforeEnd[1]!.displayId);
    assert.ok(figure.update, "in place");
    assert.match(String(figure.data["image/svg+xml"]), /^<svg /, "the final figure has its static image");
    assert.equal((figure.data["application/vnd.plotly.v1+json"] as { data: Array<{ x: number[] }> }).data[0]!.x.at(-1), 8);
  });

  it("interrupting a training cell stops every rank after the same step; the next run starts at once", async () => {
    const running = nb.run(
      "const long = cluster.train({ model: ({ tf }) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] }), data: { builtin: 'synthetic', size: 64, features: 4, classes: 3 }, batchSize: 16, epochs: 100000, metricsIntervalMs: 20 });\nawait long",
    );
    await new Promise((resolve) => setTimeout(resolve, 800));
    await nb.executor.interrupt();
    assert.equal((await running).status, "interrupted");
    const outcome = await nb.run("const stopped = await long;\n[stopped.stopped, stopped.steps > 0, stopped.steps < 400000]");
    assert.equal(resultText(outcome), "[ true, true, true ]", JSON.stringify(outcome));
    const onRanks = await nb.run(
      "const [a, b] = [await cluster.model({ rank: 0 }), await cluster.model({ rank: 1 })];\nJSON.stringify(a.getWeights().map((w) => Array.from(w.dataSync()))) === JSON.stringify(b.getWeights().map((w) => Array.from(w.dataSync())))",
    );
    assert.equal(resultText(onRanks), "true", "identical weights on both ranks after the stop");
    const again = await nb.run("(await cluster.train({ model: ({ tf }) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] }), data: { builtin: 'synthetic', size: 64, features: 4, classes: 3 }, batchSize: 16, epochs: 1, live: false })).steps");
    assert.equal(resultText(again), "4");
  });

  it("interrupting the notebook interrupts busy workers, which keep their state", async () => {
    const running = nb.run("%%workers\nwhile (true) {}");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const startedAt = performance.now();
    await nb.executor.interrupt();
    const outcome = await running;
    assert.equal(outcome.status, "interrupted");
    assert.ok(performance.now() - startedAt < 1000);
    assert.equal(resultText(await nb.run("%%workers\nscale")), "[ 10, 20 ]");
  });

  it("reports an unknown rank and a missing cluster clearly", async () => {
    const bad = await nb.run("%%workers 7\n1");
    assert.equal(bad.status, "error");
    assert.match(bad.status === "error" ? bad.evalue : "", /rank 7 is not in this cluster of 2/);
    const pidText = resultText(await nb.run("cluster.describe().map((row) => row.pid).join(' ')"));
    const list = pidText.replace(/'/g, "").split(" ").map(Number);
    assert.equal(list.length, 2);
    assert.equal((await nb.run("await cluster.close()")).status, "ok");
    assert.deepEqual(await waitForExit(list, 100), []);
    const none = await nb.run("%%workers\n1");
    assert.match(none.status === "error" ? none.evalue : "", /unknown cell magic %%workers|%%workers needs a cluster/);
  });
});

describe("a training run in flight when the notebook closes", () => {
  it("is stopped by the shutdown, and its cell gets the final state (stopped: with the static image) before the close ends", async () => {
    const nb = await openNotebook();
    let started: Awaited<ReturnType<TestNotebook["run"]>>;
    try {
      started = await nb.run(
        "import { launchCluster } from \"ringbook\";\nconst cluster = await launchCluster({ workers: 2 });\nconst run = cluster.train({ model: ({ tf }) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] }), data: { builtin: 'synthetic', size: 64, features: 4, classes: 3 }, batchSize: 16, epochs: 100000, metricsIntervalMs: 20 });",
      );
      assert.equal(started.status, "ok", JSON.stringify(started));
      await nb.waitFor(() => displaysOf(nb, started.cellId).some((display) => /^training: step [1-9]/.test(String(display.data["text/plain"]))), 60_000);
    } finally {
      await nb.close();
    }
    const displays = displaysOf(nb, started.cellId);
    const progress = displays.filter((display) => display.data["application/vnd.plotly.v1+json"] === undefined).at(-1)!;
    const figure = displays.filter((display) => display.data["application/vnd.plotly.v1+json"] !== undefined).at(-1)!;
    assert.match(String(progress.data["text/plain"]), /^stopped: step \d+\/400000 · epoch \d+\/100000 · loss /, JSON.stringify(nb.logs));
    assert.match(String(figure.data["image/svg+xml"]), /^<svg /, "the final figure has its static image");
  });
});
