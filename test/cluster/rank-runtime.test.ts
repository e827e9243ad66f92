/**
 * A rank's execution-thread runtime in this test's own thread, over a MessageChannel: what the
 * supervisor would see (ready with the backend, task output and results, an interrupted task,
 * train and evaluate specs that do not parse, shutdown), and that close() leaves the thread as it
 * found it. Everything runs inside one test: while the runtime is started, this thread's output
 * goes to it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { MessageChannel } from "node:worker_threads";
import type { FromWorker } from "../../lib/cluster/messages.js";
import { RankRuntime } from "../../lib/cluster/rank-runtime.js";
import { closeSocketsKey, interruptProbeKey, type FromExecution, type ToExecution } from "../../lib/cluster/thread-protocol.js";
import { parseWorkerBootstrapValue } from "../../lib/cluster/worker-bootstrap.js";
import { ClusterSecret } from "../../lib/transport/cluster-secret.js";

/** The supervisor's end of the channel: every message, and waits on them. */
class SupervisorEnd {
  readonly messages: FromExecution[] = [];

  constructor(readonly port: MessageChannel["port2"]) {
    // Same process and our own runtime: the thread protocol is not validated (see thread-protocol).
    port.on("message", (message: FromExecution) => this.messages.push(message));
  }

  send(message: ToExecution): void {
    this.port.postMessage(message);
  }

  /** The first message that `pick` maps to a value, waiting for it (at most 30 s: tfjs loads first). */
  async next<T>(pick: (message: FromExecution) => T | undefined): Promise<T> {
    const deadline = AbortSignal.timeout(30_000);
    for (;;) {
      for (const message of this.messages) {
        const picked = pick(message);
        if (picked !== undefined) return picked;
      }
      if (deadline.aborted) throw new Error(`no such message among ${JSON.stringify(this.messages).slice(0, 400)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The wire message and payload the supervisor would forward for task `taskId`'s result. */
  result(taskId: string): Promise<{ message: Extract<FromWorker, { type: "result" }>; payload: Uint8Array | null }> {
    return this.next((message) =>
      message.type === "forward" && message.message.type === "result" && message.message.taskId === taskId ? { message: message.message, payload: message.payload } : undefined,
    );
  }

  output(taskId: string): string {
    return this.messages.map((message) => (message.type === "forward" && message.message.type === "output" && message.message.taskId === taskId ? message.message.text : "")).join("");
  }
}

describe("rank runtime, in process", () => {
  it("runs function and cell tasks with their output, interrupts a waiting task, shuts down, and leaves the thread as it found it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ringbook-rank-runtime-"));
    const channel = new MessageChannel();
    const supervisor = new SupervisorEnd(channel.port2);
    const consoleBefore = globalThis.console;
    const writeBefore = process.stdout.write;
    const bootstrap = parseWorkerBootstrapValue({
      clusterId: "in-process",
      rank: 0,
      incarnation: 0,
      worldSize: 1,
      controlEndpoint: "tcp://127.0.0.1:1",
      secretHex: ClusterSecret.generate().toHex(),
      curveKeys: null,
      backend: "cpu",
      gpu: false,
      cwd: dir,
    });
    const runtime = new RankRuntime(bootstrap, channel.port1);
    let closed = false;
    try {
      await runtime.start();
      const ready = await supervisor.next((message) => (message.type === "forward" && message.message.type === "ready" ? message.message : undefined));
      assert.equal(ready.backend, "cpu");

      supervisor.send({ type: "task", taskId: "t1", task: { kind: "function", source: "({ rank, worldSize, args }) => { console.log('rank', rank); return rank + worldSize + args.n }" }, payload: serialize({ n: 40 }) });
      const first = await supervisor.result("t1");
      assert.deepEqual(first.message, { type: "result", taskId: "t1", status: "ok", hasValue: true });
      assert.ok(first.payload);
      assert.equal(deserialize(first.payload), 41);
      assert.equal(supervisor.output("t1"), "rank 0\n", "output is attributed to its task, and arrives before its result");

      supervisor.send({ type: "task", taskId: "t2", task: { kind: "cell", code: "const kept: number = 2\nkept * worldSize", name: "[rank 0] In[1]" }, payload: null });
      const cell = await supervisor.result("t2");
      assert.ok(cell.payload);
      assert.equal(deserialize(cell.payload), 2);

      supervisor.send({ type: "task", taskId: "t3", task: { kind: "function", source: "() => { console.log('waiting'); return new Promise(() => {}) }" }, payload: null });
      await supervisor.next(() => (supervisor.output("t3") === "waiting\n" ? true : undefined));
      const probe: unknown = Reflect.get(globalThis, Symbol.for(interruptProbeKey));
      if (typeof probe !== "function") assert.fail("the interrupt probe is where the supervisor's inspector calls it");
      assert.equal(Reflect.apply(probe, undefined, [3, null]), true);
      assert.deepEqual((await supervisor.result("t3")).message, { type: "result", taskId: "t3", status: "interrupted" });
      await supervisor.next((message) => (message.type === "interruptAck" && message.seq === 3 ? true : undefined));

      supervisor.send({ type: "task", taskId: "t4", task: { kind: "cell", code: "kept", name: "[rank 0] In[2]" }, payload: null });
      const after = await supervisor.result("t4");
      assert.ok(after.payload);
      assert.equal(deserialize(after.payload), 2, "cells' declarations survive the interrupt");

      // A train or evaluate spec that does not parse fails its task naming the field, before any model is built.
      supervisor.send({ type: "task", taskId: "t5", task: { kind: "train" }, payload: serialize({ modelSource: 42 }) });
      const train = (await supervisor.result("t5")).message;
      assert.ok(train.status === "error", JSON.stringify(train));
      assert.equal(train.error.code, "ERR_BAD_PAYLOAD");
      assert.equal(train.error.message, "the train task's args.modelSource must be a string, got 42");
      supervisor.send({ type: "task", taskId: "t6", task: { kind: "evaluate" }, payload: null });
      const evaluate = (await supervisor.result("t6")).message;
      assert.ok(evaluate.status === "error", JSON.stringify(evaluate));
      assert.equal(evaluate.error.message, "the evaluate task's args must be an object, got undefined");

      supervisor.send({ type: "shutdown" });
      await supervisor.next((message) => (message.type === "shutdownDone" ? true : undefined));

      runtime.close();
      closed = true;
      for (const key of [interruptProbeKey, closeSocketsKey]) assert.equal(Reflect.get(globalThis, Symbol.for(key)), undefined, `close() removes ${key}`);
      for (const name of ["rank", "worldSize", "tf", "collectives"]) assert.equal(Reflect.get(globalThis, name), undefined, `close() removes the global ${name}`);
      assert.equal(globalThis.console, consoleBefore, "close() gives the console back");
      assert.equal(process.stdout.write, writeBefore, "close() gives stdout back");
    } finally {
      if (!closed) runtime.close();
      channel.port1.close();
      channel.port2.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
