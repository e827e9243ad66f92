/**
 * The executor's reader of the cell thread's messages: every kind of message reads back as it was
 * sent through structured clone, and one of the wrong shape is refused as a whole.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseFromWorker, type FromWorker } from "../../kernel/execution/worker-protocol.js";

const sent: FromWorker[] = [
  { type: "ready" },
  { type: "event", cellId: "c1", event: { kind: "stream", name: "stderr", text: "warning\n" } },
  { type: "event", cellId: "c1", event: { kind: "display", data: { "text/plain": "1" }, metadata: {}, update: false } },
  { type: "event", cellId: "c1", event: { kind: "display", data: { "text/html": "<b>1</b>" }, metadata: { isolated: true }, displayId: "d1", update: true } },
  { type: "event", cellId: "c1", event: { kind: "clearOutput", wait: true } },
  { type: "event", cellId: "c1", event: { kind: "inputRequest", requestId: "r1", prompt: "name? ", password: false } },
  { type: "event", cellId: "c1", event: { kind: "commOpen", commId: "m1", targetName: "ringbook.plotly", data: { a: 1 }, metadata: {} } },
  { type: "event", cellId: "c1", event: { kind: "commMsg", commId: "m1", data: { b: [1, 2] }, metadata: {} } },
  { type: "event", cellId: "c1", event: { kind: "commClose", commId: "m1", data: {}, metadata: {} } },
  { type: "event", cellId: "c1", event: { kind: "lateError", ename: "Error", evalue: "late", traceback: ["Error: late", "    at timer"] } },
  { type: "outcome", cellId: "c1", outcome: { status: "ok", userExpressions: {} } },
  {
    type: "outcome",
    cellId: "c2",
    outcome: { status: "ok", result: { data: { "text/plain": "2" }, metadata: {} }, userExpressions: { x: { status: "ok", data: { "text/plain": "1" }, metadata: {} }, y: { status: "error", ename: "ReferenceError", evalue: "y", traceback: [] } } },
  },
  { type: "outcome", cellId: "c3", outcome: { status: "error", ename: "TypeError", evalue: "no", traceback: ["TypeError: no"] } },
  { type: "outcome", cellId: "c4", outcome: { status: "interrupted" } },
  { type: "outcome", cellId: "c5", outcome: { status: "restarted", reason: "process.exit(1)" } },
  { type: "reply", callId: 1, ok: true, value: true },
  { type: "reply", callId: 2, ok: true, value: null },
  { type: "reply", callId: 3, ok: true, value: [{ commId: "m1", targetName: "ringbook.plotly" }] },
  { type: "reply", callId: 4, ok: false, message: "Error: comm failed" },
  { type: "interruptAck", seq: 7 },
  { type: "shutdownDone", failures: ["a hook threw"] },
];

test("every message of the cell thread reads back as it was sent", () => {
  for (const message of sent) assert.deepEqual(parseFromWorker(structuredClone(message)), message);
});

test("a message whose event, outcome or reply has the wrong shape is refused as a whole, quoting it", () => {
  for (const message of [
    { type: "event", cellId: "c1", event: { kind: "stream", name: "stdin", text: "" } },
    { type: "event", cellId: "c1", event: { kind: "display", data: { "text/plain": "1" }, metadata: {}, displayId: 3, update: false } },
    { type: "outcome", cellId: "c1", outcome: { status: "ok", userExpressions: { x: { status: "ok" } } } },
    { type: "outcome", cellId: "c1", outcome: { status: "error", ename: "E", evalue: "e", traceback: [1] } },
    { type: "reply", callId: 1, ok: true, value: [{ commId: 1 }] },
    { type: "reply", callId: 1, ok: false },
    [{ type: "ready" }],
  ]) {
    assert.throws(() => parseFromWorker(message), (error: unknown) => error instanceof Error && "code" in error && error.code === "WORKER_MESSAGE" && error.message.startsWith("cell worker sent an unexpected message: "));
  }
});
