/**
 * The cell thread's runtime in this test's own thread, over a MessageChannel: what the executor
 * would see (ready, events and outcomes tagged with their cell, interrupt acknowledgements,
 * shutdown), the notebook host it installs, and that close() leaves the thread as it found it.
 * Everything runs inside one test: while the runtime is started, this thread's output goes to it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageChannel } from "node:worker_threads";
import { CellRuntime } from "../../kernel/execution/cell-runtime.js";
import type { ExecuteOutcome, ExecuteRequest } from "../../kernel/execution/executor.js";
import { interruptProbeSymbolKey, parseCellWorkerConfig, parseFromWorker, type FromWorker, type ToWorker } from "../../kernel/execution/worker-protocol.js";
import { notebookHost } from "../../lib/notebook-host.js";

/** The executor's end of the channel: every message, parsed, and waits on them. */
class ExecutorEnd {
  readonly messages: FromWorker[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(readonly port: MessageChannel["port2"]) {
    port.on("message", (raw: unknown) => {
      this.messages.push(parseFromWorker(raw));
      for (const wake of this.#waiters) wake();
    });
  }

  send(message: ToWorker): void {
    this.port.postMessage(message);
  }

  /** The first message that `pick` maps to a value, waiting for it (at most 10 s). */
  async next<T>(pick: (message: FromWorker) => T | undefined): Promise<T> {
    const deadline = AbortSignal.timeout(10_000);
    for (;;) {
      for (const message of this.messages) {
        const picked = pick(message);
        if (picked !== undefined) return picked;
      }
      if (deadline.aborted) throw new Error(`no such message among ${JSON.stringify(this.messages).slice(0, 400)}`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 50);
        this.#waiters.add(wake);
      });
    }
  }

  outcome(cellId: string): Promise<ExecuteOutcome> {
    return this.next((message) => (message.type === "outcome" && message.cellId === cellId ? message.outcome : undefined));
  }

  stdout(cellId: string): string {
    return this.messages
      .map((message) => (message.type === "event" && message.cellId === cellId && message.event.kind === "stream" && message.event.name === "stdout" ? message.event.text : ""))
      .join("");
  }
}

function request(executionCount: number, code: string): ExecuteRequest {
  return { cellId: `c${executionCount}`, code, silent: false, storeHistory: true, userExpressions: {}, allowStdin: false, executionCount };
}

function resultText(outcome: ExecuteOutcome): unknown {
  return outcome.status === "ok" ? outcome.result?.data["text/plain"] : `${outcome.status}: ${JSON.stringify(outcome)}`;
}

describe("cell runtime, in process", () => {
  it("runs cells with their output, magics, interrupt hooks and shutdown hooks, and leaves the thread as it found it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ringbook-cell-runtime-"));
    const channel = new MessageChannel();
    const executor = new ExecutorEnd(channel.port2);
    const consoleBefore = globalThis.console;
    const writeBefore = process.stdout.write;
    const config = parseCellWorkerConfig({ cwd: dir, moduleAliases: {}, experimentalDecorators: false, emitDecoratorMetadata: false });
    const runtime = new CellRuntime(config, channel.port1);
    let closed = false;
    try {
      runtime.start();
      await executor.next((message) => (message.type === "ready" ? true : undefined));
      const host = notebookHost();
      assert.ok(host, "the runtime installs a notebook host");
      executor.send({ type: "execute", request: request(1, "const answer: number = 41\nconsole.log('hello from', 'c1')\nanswer + 1") });
      assert.equal(resultText(await executor.outcome("c1")), "42");
      assert.equal(executor.stdout("c1"), "hello from c1\n");

      host.cellMagics.set("shout", async (args, body) => `${args}:${body.toUpperCase()}`);
      executor.send({ type: "execute", request: request(2, "%%shout loud\nhello") });
      assert.equal(resultText(await executor.outcome("c2")), "'loud:HELLO'");

      let hookCalls = 0;
      host.interruptHooks.add(() => hookCalls++);
      executor.send({ type: "execute", request: request(3, "console.log('waiting')\nawait new Promise(() => {})") });
      await executor.next((message) => (executor.stdout("c3") === "waiting\n" ? message : undefined));
      const probe: unknown = Reflect.get(globalThis, Symbol.for(interruptProbeSymbolKey));
      if (typeof probe !== "function") assert.fail("the interrupt probe is where the executor's inspector calls it");
      assert.equal(Reflect.apply(probe, undefined, [7, true]), true);
      assert.deepEqual(await executor.outcome("c3"), { status: "interrupted" });
      await executor.next((message) => (message.type === "interruptAck" && message.seq === 7 ? true : undefined));
      assert.equal(hookCalls, 1);
      executor.send({ type: "execute", request: request(4, "answer") });
      assert.equal(resultText(await executor.outcome("c4")), "41", "state survives the interrupt");

      let shutdownRan = false;
      host.shutdownHooks.add(async () => {
        shutdownRan = true;
      });
      host.shutdownHooks.add(() => {
        throw new Error("this hook fails");
      });
      executor.send({ type: "shutdown" });
      const failures = await executor.next((message) => (message.type === "shutdownDone" ? message.failures : undefined));
      assert.equal(shutdownRan, true);
      assert.equal(failures.length, 1);
      assert.match(failures[0] ?? "", /this hook fails/);

      runtime.close();
      closed = true;
      assert.equal(notebookHost(), undefined, "close() removes the host");
      assert.equal(Reflect.get(globalThis, Symbol.for(interruptProbeSymbolKey)), undefined, "close() removes the probe");
      assert.equal(Reflect.get(globalThis, "display"), undefined, "close() removes the cells' globals");
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
