/**
 * LivePlot and plotStream through the kernel's real display API and figure streams (a sink on
 * globalThis collects display messages, a comm registry collects comm events): one display updated
 * in place at a bounded rate, the final state with every series, deltas that rebuild the added
 * points exactly while a front end listens, a whole figure when a series appears, and no output at
 * all without a notebook.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { RingbookError } from "../../lib/errors.js";
import type { FigureDelta } from "../../lib/plots/figure-stream.js";
import { LivePlot, plotStream } from "../../lib/plots/live-plot.js";
import { kernelDisplayHost } from "../helpers/display-host.js";

const plotlyMimeType = "application/vnd.plotly.v1+json";
type PlotlyJson = { data: Array<{ name: string; x: number[]; y: number[] }> };

const kernel = kernelDisplayHost();
const { messages, commEvents, comms } = kernel;
before(() => kernel.install());
after(() => kernel.uninstall());

/** An async stream of `count` metric records, `perTick` at a time with a pause between. */
async function* metrics(count: number, perTick: number, pauseMs: number): AsyncGenerator<{ step: number; loss: number; accuracy: number }> {
  for (let step = 1; step <= count; step++) {
    yield { step, loss: 1 / step, accuracy: 1 - 1 / step };
    if (step % perTick === 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

test("plotStream shows one display updated in place at most 4 times a second, ending with every series at its last point", async () => {
  messages.length = 0;
  const startedAt = performance.now();
  const plot = await plotStream(metrics(3000, 30, 15), (m) => m, { x: "step", title: "metrics" });
  const elapsedS = (performance.now() - startedAt) / 1000;
  assert.equal(plot.length, 3000);
  assert.equal(new Set(messages.map((message) => message.displayId)).size, 1, "one display id");
  assert.equal(messages.filter((message) => !message.update).length, 1, "shown once, then updated");
  assert.ok(messages.length >= 3, `${messages.length} updates: the plot is live`);
  assert.ok(messages.length <= Math.ceil(elapsedS * 4) + 2, `${messages.length} updates in ${elapsedS.toFixed(2)} s`);
  const last = messages.at(-1)!;
  const figure = last.data[plotlyMimeType] as PlotlyJson;
  assert.deepEqual(figure.data.map((trace) => trace.name), ["loss", "accuracy"], "the x key is not a series");
  for (const trace of figure.data) {
    assert.equal(trace.x.at(-1), 3000);
    assert.ok(trace.x.length <= 300, `downsampled to maxPoints: ${trace.x.length}`);
  }
  assert.match(String(last.data["image/svg+xml"]), /^<svg /, "the final state has its static image");
  assert.equal(String(last.data["text/plain"]), "3000 points; last: loss 0.0003333, accuracy 0.9997");
});

test("with a front end on the figure stream comm, updates are deltas that rebuild the added points, and a new series brings a whole figure", async () => {
  messages.length = 0;
  commEvents.length = 0;
  assert.equal(comms.handleOpen("front-end", "ringbook.plotly", { protocol: 1 }, {}), true);
  try {
    // maxPoints large enough that no delta is downsampled (at most maxPoints / 4 points each): the replay sees every step.
    const plot = new LivePlot({ x: "step", maxPoints: 2000 });
    // About 2.4 s at 4 updates a second: several deltas before and after the new series.
    for (let step = 1; step <= 400; step++) {
      plot.add(step <= 200 ? { step, loss: 1 / step } : { step, loss: 1 / step, lr: 0.1 });
      if (step % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 60));
    }
    plot.finish();

    const wholes = messages.map((message) => ({
      figure: message.data[plotlyMimeType] as PlotlyJson,
      revision: (message.metadata[plotlyMimeType] as { ringbook: { revision: number } }).ringbook.revision,
    }));
    const deltas = commEvents.filter((event) => event.kind === "commMsg").map((event) => (event as unknown as { data: FigureDelta }).data);
    assert.ok(deltas.length >= 3, `${deltas.length} deltas`);
    assert.equal(plot.deltas, deltas.length);
    // The lr series appeared at step 201: the next update was a whole figure with two traces.
    const firstWithLr = wholes.find((whole) => whole.figure.data.length === 2)!;
    assert.ok(firstWithLr !== undefined && firstWithLr !== wholes.at(-1), "a whole figure came when the series appeared, before the final one");
    assert.ok(deltas.every((delta) => delta.traces.length === wholes.find((whole) => whole.revision === delta.revision)!.figure.data.length), "every delta fits its revision's traces");

    // Replay revision by revision: whole figure, then its deltas in order.
    for (const whole of wholes.slice(0, -1)) {
      const drawn = whole.figure.data.map((trace) => ({ x: [...trace.x], y: [...trace.y] }));
      const ofRevision = deltas.filter((delta) => delta.revision === whole.revision);
      ofRevision.forEach((delta, i) => {
        assert.equal(delta.seq, i + 1);
        delta.traces.forEach((points, t) => {
          drawn[t]!.x.push(...(points.x as number[]));
          drawn[t]!.y.push(...(points.y as number[]));
        });
      });
      const loss = drawn[0]!;
      const lastStep = loss.x.at(-1)!;
      assert.deepEqual(loss.x, Array.from({ length: lastStep }, (_, i) => i + 1), `revision ${whole.revision}: every step once, in order`);
      assert.deepEqual(loss.y, loss.x.map((step) => Number((1 / step).toPrecision(5))));
    }
    const final = wholes.at(-1)!.figure;
    assert.equal(final.data[0]!.x.at(-1), 400);
    assert.deepEqual(final.data[1]!.x, Array.from({ length: 200 }, (_, i) => i + 201), "the lr series starts where it was first added");
  } finally {
    comms.handleClose("front-end", {}, {});
  }
});

test("bad points are refused with a clear error; a finished plot takes no more", () => {
  const plot = new LivePlot({ x: "step" }, null);
  assert.throws(() => plot.add({ loss: 1 }), (error: unknown) => error instanceof RingbookError && /finite number under "step"/.test(error.message));
  assert.throws(() => plot.add({ step: 1, loss: "high" as unknown as number }), /"loss" must be a number/);
  plot.add({ step: 1, loss: 0.5 });
  plot.finish();
  assert.throws(() => plot.add({ step: 2, loss: 0.4 }), /finished/);
});

test("without a notebook, a live plot only collects its points", async () => {
  messages.length = 0;
  const plot = new LivePlot({}, null);
  for (let i = 0; i < 10; i++) plot.add({ loss: 10 - i });
  await new Promise((resolve) => setTimeout(resolve, 50));
  plot.finish();
  assert.equal(messages.length, 0);
  assert.deepEqual(plot.figure.data[0]!.x, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "x counts the points added");
  assert.deepEqual(plot.figure.data[0]!.y, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
});
