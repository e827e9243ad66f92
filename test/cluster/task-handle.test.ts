/**
 * The owner's side of a task, without workers: a PendingTask fed as the cluster's receive loop
 * feeds it (structured-clone payloads), read through a TaskHandle whose kind parses them.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { serialize } from "node:v8";
import { PendingTask } from "../../lib/cluster/pending-task.js";
import { TaskHandle, type TaskHandleEvent } from "../../lib/cluster/task-handle.js";
import { parseExportedModel, parseTrainEvent, parseTrainResult } from "../../lib/cluster/task-kinds.js";
import type { WorkerTrainEvent, WorkerTrainResult } from "../../lib/training/worker-train.js";
import { toStep, type Step } from "../../lib/ids.js";

const ready: WorkerTrainEvent = { kind: "ready", rank: 1, parameterCount: 10, datasetSize: null, backend: "cpu" };
const result = (rank: number): WorkerTrainResult => ({ rank, stopped: false, position: { epoch: 1, stepInEpoch: 0, globalStep: 4 }, parameterCount: 10 });

async function drain<Event>(events: AsyncIterable<TaskHandleEvent<Event>>): Promise<Array<TaskHandleEvent<Event>>> {
  const seen: Array<TaskHandleEvent<Event>> = [];
  for await (const event of events) seen.push(event);
  return seen;
}

describe("task kinds", () => {
  test("a train event and result read back from structured clone as they were sent", () => {
    assert.deepEqual(parseTrainEvent(structuredClone(ready), "event"), ready);
    const withEarlyStopping: WorkerTrainResult = { ...result(0), earlyStopping: { stoppedEpoch: null, bestEpoch: 0, best: 0.5, restoredBestWeights: false } };
    assert.deepEqual(parseTrainResult(structuredClone(withEarlyStopping), "result"), withEarlyStopping);
  });

  test("a payload of the wrong shape is an ERR_BAD_PAYLOAD naming the field and quoting what was there", () => {
    assert.throws(() => parseTrainEvent({ kind: "steps", rank: 0, records: [{ rank: 0, epoch: 0, step: "1" }] }, "rank 0's train event"), (error: unknown) => {
      assert.ok(error instanceof Error && "code" in error && error.code === "ERR_BAD_PAYLOAD");
      assert.match(error.message, /^rank 0's train event\.records\[0\]\.step must be an integer >= 0, got "1"$/);
      return true;
    });
    assert.throws(() => parseTrainEvent({ kind: "finished", rank: 0 }, "event"), /event\.kind must be "ready", "steps", "epochs" or "validations", got "finished"/);
    assert.throws(() => parseExportedModel({ kind: "variables", variables: [{ name: "w", shape: [2], values: [1, 2] }] }, "model"), /model\.variables\[0\]\.values must be a Float32Array/);
  });
});

describe("step numbers", () => {
  test("a step record's global step crosses to the owner as a checked Step", () => {
    const record = { rank: 0, epoch: 0, step: 3, stepInEpoch: 2, stepsInEpoch: 4, loss: 1, localLoss: 1, samples: 2, globalSamples: 4, dataMs: 0, computeMs: 1, communicationMs: 0, applyMs: 0, stepMs: 1, endedAtMs: 5, samplesPerSecond: 2 };
    const event = parseTrainEvent(structuredClone({ kind: "steps", rank: 0, records: [record] }), "event");
    assert.ok(event.kind === "steps");
    const step: Step | undefined = event.records[0]?.step;
    assert.equal(step, 3);
    assert.throws(() => parseTrainEvent({ kind: "steps", rank: 0, records: [{ ...record, step: -1 }] }, "event"), /^BadPayloadError: event\.records\[0\]\.step must be an integer >= 0, got -1$/);
    assert.throws(() => toStep(1.5, "the global step"), (error: unknown) => error instanceof Error && "code" in error && error.code === "ERR_BAD_STEP" && error.message === "the global step must be an integer >= 0, got 1.5");
  });
});

describe("TaskHandle", () => {
  test("yields output and parsed events in order, then every rank's parsed result", async () => {
    const pending = new PendingTask("t1", [0, 1]);
    const handle = new TaskHandle("train", pending, () => assert.fail("nothing asked it to stop"));
    pending.push({ kind: "output", rank: 0, stream: "stdout", text: "hello\n" });
    pending.push({ kind: "event", rank: 1, payload: serialize(ready) });
    pending.settle(1, { status: "ok", value: result(1) });
    pending.settle(0, { status: "ok", value: result(0) });
    assert.deepEqual(await drain(handle.events()), [
      { kind: "output", rank: 0, stream: "stdout", text: "hello\n" },
      { kind: "event", rank: 1, event: ready },
    ]);
    assert.deepEqual(await handle.result(), [result(0), result(1)]);
  });

  test("an event that does not parse is not dropped silently: it stops the task and becomes the result's error", async () => {
    const pending = new PendingTask("t2", [0], true);
    let stops = 0;
    const handle = new TaskHandle("train", pending, () => stops++);
    pending.push({ kind: "event", rank: 0, payload: serialize({ kind: "ready", rank: 0 }) });
    pending.push({ kind: "event", rank: 0, payload: Buffer.from("not a clone") });
    pending.settle(0, { status: "ok", value: result(0) });
    assert.deepEqual(await drain(handle.events()), []);
    assert.equal(stops, 1, "stopped once, at the first bad event");
    await assert.rejects(handle.result(), /rank 0's train event\.parameterCount must be an integer >= 0, got undefined/);
  });

  test("a result of the wrong shape rejects with the rank that sent it", async () => {
    const pending = new PendingTask("t3", [0, 1]);
    const handle = new TaskHandle("evaluate", pending, () => undefined);
    pending.settle(0, { status: "ok", value: { loss: 0.5 } });
    pending.settle(1, { status: "ok", value: { loss: "low" } });
    await drain(handle.events());
    await assert.rejects(handle.result(), /rank 1's evaluate result\.loss must be a number, got "low"/);
  });
});
