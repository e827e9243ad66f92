/**
 * The kernel server under a stream of fuzzed messages on its shell and control sockets (real
 * ZeroMQ, the fixture kernel): random frames, truncated messages, wrong signatures, and validly
 * signed requests with random contents. Property: the kernel keeps running and answering, each
 * message is either dropped with one log line or answered (an error reply for bad content), and a
 * good request after the stream is served. Requests that would run code, wait for input or end
 * the kernel are left out: their handling is tested elsewhere, and random code is not a protocol
 * input.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import * as zmq from "zeromq";
import { clientFrames, fixtureKernelScript, makeTempDir, spawnChild, writeConnectionFile, type Child, type TestConnection } from "../kernel/helpers.js";
import { fuzzParameters } from "./fuzz-runs.js";

const KEY = "fuzz-key";
const requestTypes = ["complete_request", "inspect_request", "is_complete_request", "history_request", "kernel_info_request", "comm_info_request", "comm_open", "comm_msg", "comm_close", "frobnicate_request", "execute_reply"];

describe("kernel server under fuzzed messages", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let kernel: Child;
  let connection: TestConnection;
  let shell: zmq.Dealer;
  let control: zmq.Dealer;

  before(async () => {
    temp = await makeTempDir("fuzz-kernel");
    connection = await writeConnectionFile(temp.path, KEY);
    kernel = spawnChild(process.execPath, [fixtureKernelScript, "--connection-file", connection.file], { RINGBOOK_HISTORY_FILE: `${temp.path}/history.jsonl` });
    shell = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
    shell.connect(`tcp://127.0.0.1:${connection.ports.shell}`);
    control = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
    control.connect(`tcp://127.0.0.1:${connection.ports.control}`);
  });

  after(async () => {
    shell.close();
    control.close();
    kernel.kill();
    await kernel.exited;
    await temp.remove();
  });

  /** Sends a kernel_info_request and waits for its reply, skipping replies to earlier messages. */
  async function kernelInfo(socket: zmq.Dealer): Promise<void> {
    const frames = clientFrames(KEY, "kernel_info_request", {});
    const msgId = (JSON.parse((frames[2] as Buffer).toString()) as { msg_id: string }).msg_id;
    await socket.send(frames);
    for (;;) {
      const received = await socket.receive();
      const parent = JSON.parse((received[3] as Buffer).toString()) as { msg_id?: string };
      if (parent.msg_id === msgId) return;
    }
  }

  test("random, truncated, forged and badly shaped messages are each dropped or answered, and the kernel keeps serving", async () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    const raw = fc.array(fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)), { maxLength: 8 });
    const signed = fc.record({ msgType: fc.constantFrom(...requestTypes), content: fc.oneof(json, fc.dictionary(fc.constantFrom("code", "cursor_pos", "comm_id", "target_name", "data", "hist_access_type", "n", "detail_level"), json)) });
    const message = fc.oneof(
      raw.map((frames) => ({ kind: "raw" as const, frames })),
      signed.map(({ msgType, content }) => ({ kind: "signed" as const, frames: clientFrames(KEY, msgType, content) })),
      signed.map(({ msgType, content }) => ({ kind: "forged" as const, frames: clientFrames(KEY, msgType, content, { signature: "f".repeat(64) }) })),
      fc.tuple(signed, fc.nat({ max: 6 })).map(([{ msgType, content }, keep]) => ({ kind: "truncated" as const, frames: clientFrames(KEY, msgType, content).slice(0, keep) })),
    );
    const parameters = fuzzParameters(150);
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 20 }), fc.boolean(), async (messages, onControl) => {
        const socket = onControl ? control : shell;
        for (const { frames } of messages) {
          await socket.send(frames.length === 0 ? [Buffer.alloc(0)] : frames);
          sent++;
        }
        await kernelInfo(socket);
        assert.equal(kernel.process.exitCode, null, `the kernel exited: ${kernel.stderr().slice(-2000)}`);
      }),
      parameters,
    );
    assert.ok(sent > 0);
    // One log line per dropped message at most; nothing that looks like a crash.
    assert.doesNotMatch(kernel.stderr(), /uncaught|unhandled|TypeError|RangeError|failed: (?!RangeError: complete failed on purpose)/i);
    await kernelInfo(shell);
    await kernelInfo(control);
  });
});
