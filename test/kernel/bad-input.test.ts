/**
 * Hostile or broken input on the shell socket, sent with raw zeromq sockets to the fixture kernel:
 * each bad message is dropped with one log line (or answered with an error reply), nothing is
 * executed, and the kernel still answers kernel_info afterwards.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as zmq from "zeromq";
import { clientFrames, fixtureKernelScript, makeTempDir, spawnChild, writeConnectionFile, type Child, type TestConnection } from "./helpers.js";

const KEY = "a-test-key";

async function waitUntil(condition: () => boolean, signal = AbortSignal.timeout(5000)): Promise<void> {
  while (!condition()) {
    signal.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("kernel server with malformed and hostile messages", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let kernel: Child;
  let connection: TestConnection;
  let shell: zmq.Dealer;
  let iopub: zmq.Subscriber;
  /** Content of every iopub stream message, collected by an owned loop. */
  const streams: string[] = [];
  /** msg_ids of the requests whose idle status came through iopub. */
  const idleParents = new Set<string>();
  let iopubLoop: Promise<void>;

  /** Sends on shell and waits for the reply to `msgId`, reading iopub as we go. */
  async function request(msgType: string, content: unknown): Promise<{ reply: Record<string, unknown>; header: Record<string, unknown>; msgId: string }> {
    const frames = clientFrames(KEY, msgType, content);
    const msgId = JSON.parse((frames[2] as Buffer).toString()).msg_id as string;
    await shell.send(frames);
    for (;;) {
      const received = await shell.receive();
      const parent = JSON.parse((received[3] as Buffer).toString()) as { msg_id?: string };
      if (parent.msg_id === msgId) {
        return { header: JSON.parse((received[2] as Buffer).toString()), reply: JSON.parse((received[5] as Buffer).toString()), msgId };
      }
    }
  }

  /**
   * Asks kernel_info until its idle status comes through iopub, as jupyter_client's wait_for_ready
   * does: a SUB socket gets nothing published before it joined, and its connection to a kernel
   * that is still binding is retried every ~100 ms, so it can join after the first replies.
   */
  async function iopubJoined(signal = AbortSignal.timeout(10_000)): Promise<void> {
    for (;;) {
      const { msgId } = await request("kernel_info_request", {});
      const attempt = AbortSignal.any([signal, AbortSignal.timeout(250)]);
      try {
        await waitUntil(() => idleParents.has(msgId), attempt);
        return;
      } catch (error) {
        if (signal.aborted) throw error;
      }
    }
  }

  async function kernelStillAnswers(): Promise<void> {
    const { reply, header } = await request("kernel_info_request", {});
    assert.equal(header["msg_type"], "kernel_info_reply");
    assert.equal(reply["status"], "ok");
  }

  before(async () => {
    temp = await makeTempDir("bad-input");
    connection = await writeConnectionFile(temp.path, KEY);
    kernel = spawnChild(process.execPath, [fixtureKernelScript, "--connection-file", connection.file], {
      RINGBOOK_HISTORY_FILE: `${temp.path}/history.jsonl`,
    });
    shell = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
    shell.connect(`tcp://127.0.0.1:${connection.ports.shell}`);
    iopub = new zmq.Subscriber({ linger: 0 });
    iopub.connect(`tcp://127.0.0.1:${connection.ports.iopub}`);
    iopub.subscribe();
    iopubLoop = (async () => {
      for await (const frames of iopub) {
        const header = JSON.parse((frames[3] as Buffer).toString()) as { msg_type?: string };
        const parent = JSON.parse((frames[4] as Buffer).toString()) as { msg_id?: string };
        const content = (frames[6] as Buffer).toString();
        if (header.msg_type === "stream") streams.push(content);
        if (header.msg_type === "status" && content.includes('"idle"') && parent.msg_id !== undefined) idleParents.add(parent.msg_id);
      }
    })();
    await iopubJoined();
  });

  after(async () => {
    shell.close();
    iopub.close();
    await iopubLoop;
    kernel.kill();
    await kernel.exited;
    await temp.remove();
  });

  test("frames without a delimiter, or too few frames, are dropped with a log line", async () => {
    await shell.send([Buffer.from("no delimiter here")]);
    await shell.send([Buffer.from("<IDS|MSG>"), Buffer.from("sig"), Buffer.from("{}")]);
    await kernelStillAnswers();
    await kernel.waitForStderr(/shell: dropped a message: no <IDS\|MSG> delimiter among 2 frames/);
    await kernel.waitForStderr(/shell: dropped a message: expected signature, header, parent_header, metadata and content/);
  });

  test("invalid JSON with a valid signature is dropped", async () => {
    const parts = [Buffer.from("{not json"), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
    const { createHmac } = await import("node:crypto");
    const hmac = createHmac("sha256", KEY);
    for (const part of parts) hmac.update(part);
    await shell.send([Buffer.from("<IDS|MSG>"), Buffer.from(hmac.digest("hex")), ...parts]);
    await kernelStillAnswers();
    await kernel.waitForStderr(/header is not valid JSON: "\{not json"/);
  });

  test("a wrongly signed execute_request is not executed", async () => {
    const forged = clientFrames(KEY, "execute_request", { code: "print('FORGED RAN')" }, { signature: "0".repeat(64) });
    await shell.send(forged);
    await kernelStillAnswers();
    await kernel.waitForStderr(/shell: dropped a message: invalid signature "0000/);
    // The first real cell gets execution count 1: the forged one never ran.
    const { reply } = await request("execute_request", { code: "print('REAL RAN')" });
    assert.equal(reply["status"], "ok");
    assert.equal(reply["execution_count"], 1);
    await waitUntil(() => streams.some((text) => text.includes("REAL RAN")));
    assert.ok(!streams.some((text) => text.includes("FORGED RAN")), streams.join());
  });

  test("an unknown msg_type gets an error reply named after it", async () => {
    const { header, reply } = await request("frobnicate_request", {});
    assert.equal(header["msg_type"], "frobnicate_reply");
    assert.equal(reply["status"], "error");
    assert.equal(reply["ename"], "UnknownMessageType");
    await kernel.waitForStderr(/unknown message type "frobnicate_request"/);
    await kernelStillAnswers();
  });

  test("a request with invalid content gets an error reply, not a crash", async () => {
    const { header, reply } = await request("execute_request", { code: 42 });
    assert.equal(header["msg_type"], "execute_reply");
    assert.equal(reply["status"], "error");
    assert.equal(reply["ename"], "InvalidRequest");
    assert.match(String(reply["evalue"]), /execute_request: code must be a string, got 42/);
    await kernelStillAnswers();
  });

  test("an executor method that throws gets an error reply and the kernel keeps serving", async () => {
    const { header, reply } = await request("complete_request", { code: "__throw__", cursor_pos: 0 });
    assert.equal(header["msg_type"], "complete_reply");
    assert.equal(reply["status"], "error");
    assert.equal(reply["ename"], "RangeError");
    assert.equal(reply["evalue"], "complete failed on purpose");
    await kernel.waitForStderr(/shell: complete_request \S+ failed: RangeError: complete failed on purpose/);
    await kernelStillAnswers();
  });

  test("a message over the size limit (64 MiB) is dropped with a log line", async () => {
    const frames = clientFrames(KEY, "execute_request", { code: "print('BIG RAN')" });
    await shell.send([...frames, Buffer.alloc(64 * 1024 * 1024 + 1)]);
    await kernelStillAnswers();
    await kernel.waitForStderr(/shell: dropped a message: message of \d+ bytes exceeds the limit of 67108864 bytes/);
    const { reply } = await request("execute_request", { code: "'after the big one'" });
    assert.equal(reply["execution_count"], 2, "the oversized execute_request did not run");
  });

  test("SIGTERM closes the kernel cleanly with exit code 0", async () => {
    kernel.process.kill("SIGTERM");
    const code = await Promise.race([kernel.exited, new Promise((resolve) => setTimeout(() => resolve("still running after 5 s"), 5000).unref())]);
    assert.equal(code, 0, kernel.stderr());
  });
});
