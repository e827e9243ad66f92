/**
 * Messages are typed per channel: replies (shell and control), iopub and stdin each have their own
 * table, and the kernel's sender takes a message type only from its channel's table. The checks
 * are the compiler's: each `@ts-expect-error` below fails the build if the line type-checks.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { MessageSender, RequestEnvelope } from "../../kernel/server/message-sender.js";

/** Never called: compiled only, for the expected errors. */
function wrongChannelSends(sender: MessageSender, request: RequestEnvelope): void {
  // @ts-expect-error a stream is published on iopub, never sent as a reply
  sender.reply(request, "stream", { name: "stdout", text: "x" });
  // @ts-expect-error an input request goes on stdin
  sender.reply(request, "input_request", { prompt: "", password: false });
  // @ts-expect-error a reply goes back to its request's sender, not to every subscriber
  sender.publish(request.message.header, "execute_reply", { status: "aborted", execution_count: 1 });
  // @ts-expect-error iopub messages do not go on stdin
  sender.sendStdin(request.ids, request.message.header, "stream", { name: "stdout", text: "x" });
  // The right channels type-check.
  sender.reply(request, "execute_reply", { status: "aborted", execution_count: 1 });
  sender.publish(request.message.header, "stream", { name: "stdout", text: "x" });
  sender.sendStdin(request.ids, request.message.header, "input_request", { prompt: "", password: false });
}

describe("message channels", () => {
  test("a message type is accepted only on its own channel (checked when compiling)", () => {
    assert.equal(typeof wrongChannelSends, "function");
  });
});
