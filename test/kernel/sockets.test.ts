import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as zmq from "zeromq";
import { SerialSender } from "../../kernel/sockets/serial-sender.js";

describe("SerialSender", () => {
  test("10,000 messages queued at once on a real socket arrive complete and in order, without EBUSY", async () => {
    const pull = new zmq.Pull({ linger: 0 });
    const push = new zmq.Push({ linger: 0 });
    const logs: string[] = [];
    await pull.bind("tcp://127.0.0.1:*");
    push.connect(pull.lastEndpoint ?? "");
    const sender = new SerialSender(push, "push", (line) => logs.push(line));
    try {
      const count = 10_000;
      for (let index = 0; index < count; index += 1) sender.enqueue([Buffer.from(String(index))]);
      const received: number[] = [];
      for (let index = 0; index < count; index += 1) {
        const [frame] = await pull.receive();
        received.push(Number(frame?.toString()));
      }
      await sender.close();
      assert.deepEqual(received, Array.from({ length: count }, (_, index) => index));
      assert.deepEqual(logs, []);
    } finally {
      push.close();
      pull.close();
    }
  });

  test("drops with a log line beyond its bound and after close", async () => {
    const sent: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const socket = {
      send: async (frames: Buffer[]) => {
        await gate;
        sent.push(frames.join(""));
      },
    };
    const logs: string[] = [];
    const sender = new SerialSender(socket, "slow", (line) => logs.push(line), 2);
    sender.enqueue([Buffer.from("a")]);
    sender.enqueue([Buffer.from("b")]);
    sender.enqueue([Buffer.from("c")]); // over the bound: sending starts on the next microtask
    await new Promise((resolve) => setImmediate(resolve));
    sender.enqueue([Buffer.from("d")]); // room again: "a" is being sent
    sender.enqueue([Buffer.from("e")]); // over the bound
    release();
    await sender.close();
    sender.enqueue([Buffer.from("f")]);
    assert.deepEqual(sent, ["a", "b", "d"]);
    assert.deepEqual(logs, [
      "slow: dropped a message, 2 already waiting to be sent",
      "slow: dropped a message, 2 already waiting to be sent",
      "slow: dropped a message queued after close",
    ]);
  });

  test("sends (and encodes) nothing inside enqueue(): messages leave in order after the caller's synchronous work", async () => {
    const events: string[] = [];
    const socket = {
      send: async (frames: Buffer[]) => {
        events.push(`sent ${frames.join("")}`);
      },
    };
    const logs: string[] = [];
    const sender = new SerialSender(socket, "deferred", (line) => logs.push(line));
    sender.enqueue([Buffer.from("busy")]);
    sender.enqueue(() => {
      events.push("encoded input");
      return ["input"];
    });
    sender.enqueue(() => {
      throw new TypeError("Do not know how to serialize a BigInt");
    });
    sender.enqueue(["idle"]);
    events.push("cell handed to the worker");
    await sender.flush();
    assert.deepEqual(events, ["cell handed to the worker", "sent busy", "encoded input", "sent input", "sent idle"]);
    assert.deepEqual(logs, ["deferred: send failed: Do not know how to serialize a BigInt"]);
  });
});
