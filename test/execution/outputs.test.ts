import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { openNotebook, resultText, type TestNotebook } from "./helpers.js";
import type { CellEvent } from "../../kernel/execution/executor.js";

function displays(events: CellEvent[]): Array<Extract<CellEvent, { kind: "display" }>> {
  return events.filter((event): event is Extract<CellEvent, { kind: "display" }> => event.kind === "display");
}

describe("executor outputs", () => {
  let nb: TestNotebook;
  before(async () => {
    nb = await openNotebook();
  });
  after(async () => {
    await nb.close();
  });

  it("formats console output like Node without colours and attributes it to its cell", async () => {
    const outcome = await nb.run("console.log('n=%d', 5, { deep: { x: [1] } })\nconsole.error('to stderr')\nprocess.stdout.write('raw\\n')\nconsole.table([{ a: 1 }])");
    assert.equal(outcome.status, "ok");
    const stdout = nb.streamOf(outcome.cellId);
    assert.match(stdout, /^n=5 \{ deep: \{ x: \[ 1 \] \} \}\nraw\n/);
    assert.match(stdout, /┌/);
    assert.doesNotMatch(stdout, /\u001b\[/);
    assert.equal(nb.streamOf(outcome.cellId, "stderr"), "to stderr\n");
  });

  it("attributes output from timers and promises that finish after the cell to the starting cell", async () => {
    const starter = await nb.run("setTimeout(() => console.log('timer done'), 30)\nPromise.resolve().then(() => new Promise((r) => setTimeout(r, 40))).then(() => console.log('promise done'))\nsetImmediate(() => process.stderr.write('immediate\\n'))\n'started'");
    assert.equal(resultText(starter), "'started'");
    const other = await nb.run("console.log('other cell')");
    await nb.waitFor(() => nb.streamOf(starter.cellId).includes("promise done"));
    assert.equal(nb.streamOf(starter.cellId), "timer done\npromise done\n");
    assert.equal(nb.streamOf(starter.cellId, "stderr"), "immediate\n");
    assert.equal(nb.streamOf(other.cellId), "other cell\n");
  });

  it("keeps attribution across awaits in interleaved cells", async () => {
    const first = await nb.run("(async () => { for (let i = 0; i < 3; i++) { await new Promise((r) => setTimeout(r, 15)); console.log('first', i) } })(); 1");
    const second = await nb.run("(async () => { for (let i = 0; i < 3; i++) { await new Promise((r) => setTimeout(r, 10)); console.log('second', i) } })(); 2");
    await nb.waitFor(() => nb.streamOf(first.cellId).includes("first 2") && nb.streamOf(second.cellId).includes("second 2"));
    assert.equal(nb.streamOf(first.cellId), "first 0\nfirst 1\nfirst 2\n");
    assert.equal(nb.streamOf(second.cellId), "second 0\nsecond 1\nsecond 2\n");
  });

  it("displays rich content and updates handles in place", async () => {
    const outcome = await nb.run(
      "display.html('<i>x</i>')\ndisplay.markdown('# t')\ndisplay.png(new Uint8Array([1, 2, 3]))\ndisplay.bundle({ 'text/plain': 'raw' }, { isolated: true })\n" +
        "display({ data: [{ y: [1] }], layout: {} })\nconst handle = display.create('v1')\nhandle.update('v2')\nhandle.html('<b>v3</b>')\nhandle.displayId",
    );
    assert.ok(outcome.status === "ok");
    const shown = displays(nb.eventsOf(outcome.cellId));
    assert.deepEqual(shown[0]?.data, { "text/html": "<i>x</i>" });
    assert.deepEqual(shown[1]?.data, { "text/markdown": "# t" });
    assert.deepEqual(shown[2]?.data, { "image/png": "AQID" });
    assert.deepEqual(shown[3]?.metadata, { isolated: true });
    assert.ok(shown[4]?.data["application/vnd.plotly.v1+json"]);
    const handleId = JSON.parse(String(outcome.result?.data["text/plain"]).replace(/'/g, '"')) as string;
    const updates = shown.filter((event) => event.displayId === handleId);
    assert.deepEqual(updates.map((event) => [event.update, event.data["text/plain"] ?? event.data["text/html"]]), [
      [false, "'v1'"],
      [true, "'v2'"],
      [true, "<b>v3</b>"],
    ]);
  });

  it("displays a Plotly figure without layout, as Plotly accepts, and names what is wrong with a bad one", async () => {
    const outcome = await nb.run("display.plotly({ data: [{ y: [1, 3, 2] }] })");
    assert.equal(outcome.status, "ok", JSON.stringify(outcome));
    const [shown] = displays(nb.eventsOf(outcome.cellId));
    assert.deepEqual(shown?.data["application/vnd.plotly.v1+json"], { data: [{ y: [1, 3, 2] }], layout: {}, config: {} });
    const bad = await nb.run("display.plotly({ data: [{ y: [1] }], layot: {} } as never)");
    assert.ok(bad.status === "error");
    assert.equal(bad.evalue, 'display.plotly expects a Plotly figure { data: [...traces], layout?: {...} }: unknown key "layot" (a figure has data, layout, config and frames)');
    const notTraces = await nb.run("display.plotly({ data: [1, 2] } as never)");
    assert.ok(notTraces.status === "error");
    assert.match(notTraces.evalue, /data\[0\] must be a trace object, got 1$/);
  });

  it("leaves out tfjs's banner about its Node backend and keeps the cell's own warnings", async () => {
    const outcome = await nb.run("import * as tfjs from '@tensorflow/tfjs';\nconsole.warn('own warning');\ntfjs.tensor([1, 2]).sum().dataSync()[0]");
    assert.equal(resultText(outcome), "3");
    assert.equal(nb.streamOf(outcome.cellId, "stderr"), "own warning\n");
    assert.equal(nb.streamOf(outcome.cellId), "");
  });

  it("supports tslab's display API unchanged", async () => {
    const outcome = await nb.run("import * as tslab from 'tslab'\ntslab.display.markdown('**md**')\nconst d = tslab.newDisplay()\nd.html('<p>1</p>')\nd.html('<p>2</p>')\ntslab.display.raw('text/csv', 'a,b')");
    assert.equal(outcome.status, "ok");
    const shown = displays(nb.eventsOf(outcome.cellId));
    assert.deepEqual(shown.map((event) => [event.data, event.update, event.displayId !== undefined]), [
      [{ "text/markdown": "**md**" }, false, false],
      [{ "text/html": "<p>1</p>" }, false, true],
      [{ "text/html": "<p>2</p>" }, true, true],
      [{ "text/csv": "a,b" }, false, false],
    ]);
    assert.equal(shown[1]?.displayId, shown[2]?.displayId);
  });

  it("clears output, with and without wait", async () => {
    const outcome = await nb.run("display.clearOutput({ wait: true })\ndisplay.clearOutput()");
    assert.deepEqual(nb.eventsOf(outcome.cellId), [
      { kind: "clearOutput", wait: true },
      { kind: "clearOutput", wait: false },
    ]);
  });

  it("fails the running cell with an error thrown in its callback, and reports late ones as lateError", async () => {
    const during = await nb.run("await new Promise((resolve) => setTimeout(() => { JSON.parse('{'); resolve(1) }, 5))");
    assert.ok(during.status === "error");
    assert.equal(during.ename, "SyntaxError");
    const late = await nb.run("setTimeout(() => { throw new TypeError('late boom') }, 20)\nPromise.reject(new Error('unhandled later'))\n'ok'");
    assert.equal(resultText(late), "'ok'");
    await nb.waitFor(() => nb.eventsOf(late.cellId).filter((event) => event.kind === "lateError").length === 2);
    const lateErrors = nb.eventsOf(late.cellId).filter((event): event is Extract<CellEvent, { kind: "lateError" }> => event.kind === "lateError");
    assert.deepEqual(lateErrors.map((event) => event.evalue).sort(), ["late boom", "unhandled later"]);
    assert.equal(resultText(await nb.run("'kernel still alive'")), "'kernel still alive'");
  });
});
