import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MessageSigner, parseFrames, parseRequest } from "../../kernel/protocol/index.js";
import { warmUpProtocol } from "../../kernel/server/protocol-warmup.js";

describe("protocol warm-up", () => {
  test("decodes valid, signed execute_requests through the given decoder until its budget or a stop", async () => {
    const signer = new MessageSigner("hmac-sha256", "a-key");
    const decoded: string[] = [];
    const rounds = await warmUpProtocol({
      signer,
      decode: (frames) => {
        const { message } = parseFrames(frames, signer);
        decoded.push(parseRequest(message.header.msg_type, message.content)?.msg_type ?? "unknown");
      },
      // Counts, not clocks: a loaded machine may spend a whole budget on one cold round.
      shouldStop: () => decoded.length >= 30,
      budgetMs: 60_000,
    });
    assert.ok(rounds >= 30 && decoded.length === rounds, `${rounds} rounds, ${decoded.length} decoded`);
    assert.deepEqual(new Set(decoded), new Set(["execute_request"]));

    const spent = await warmUpProtocol({ signer, decode: () => undefined, shouldStop: () => false, budgetMs: 0 });
    assert.ok(spent >= 1, "a spent budget ends the warm-up after its first slice");

    let calls = 0;
    const stopped = await warmUpProtocol({ signer, decode: () => calls++, shouldStop: () => calls > 0, budgetMs: 10_000 });
    assert.equal(stopped, calls);
    assert.ok(calls > 0 && calls < 10_000);
  });

  test("stops before its next slice once its signal aborts (the kernel closing), and resolves for its owner to await", async () => {
    const signer = new MessageSigner("hmac-sha256", "a-key");
    const closing = new AbortController();
    let calls = 0;
    const rounds = await warmUpProtocol({
      signer,
      decode: () => {
        calls++;
        closing.abort();
      },
      shouldStop: () => false,
      signal: closing.signal,
      budgetMs: 10_000,
    });
    assert.equal(rounds, calls);
    assert.ok(calls > 0 && calls < 10_000);
  });
});
