import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  channelEndpoint,
  childOf,
  MessageSigner,
  parseConnectionInfo,
  parseFrames,
  parseRequest,
  ProtocolError,
  serializeMessage,
  encodeMessage,
  errorReplyTo,
  type WireMessage,
} from "../../kernel/protocol/index.js";

const parts = ['{"a":1}', "{}", "{}", '{"code":"1+1"}'].map((text) => Buffer.from(text));

function header(msgType: string, msgId = "m-1") {
  return { msg_id: msgId, session: "s-1", username: "ada", date: "2026-01-01T00:00:00.000Z", msg_type: msgType, version: "5.3" };
}

function message(msgType: string, content: Record<string, unknown>): WireMessage {
  return { header: header(msgType), parent_header: {}, metadata: {}, content, buffers: [] };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
    return `${error.code}: ${error.message}`;
  }
  assert.fail("expected a throw");
}

describe("MessageSigner", () => {
  test("signs like Python's hmac over the four JSON parts", () => {
    const signer = new MessageSigner("hmac-sha256", "secret-key");
    // Computed with /usr/bin/python3: hmac.new(b"secret-key", digestmod=sha256) updated with each part.
    assert.equal(signer.sign(parts), "ac38879172351d3dcc909177b26e1caf096c9c02e59dc737cad7a4d9283c3250");
  });

  test("verifies its own signature and rejects tampered parts, wrong and empty signatures", () => {
    const signer = new MessageSigner("hmac-sha256", "secret-key");
    const signature = Buffer.from(signer.sign(parts));
    assert.equal(signer.verify(signature, parts), true);
    const tampered = [...parts.slice(0, 3), Buffer.from('{"code":"1+2"}')];
    assert.equal(signer.verify(signature, tampered), false);
    assert.equal(signer.verify(Buffer.from("0".repeat(64)), parts), false);
    assert.equal(signer.verify(Buffer.alloc(0), parts), false);
  });

  test("an empty key disables signing explicitly", () => {
    const signer = new MessageSigner("hmac-sha256", "");
    assert.equal(signer.enabled, false);
    assert.equal(signer.sign(parts), "");
    assert.equal(signer.verify(Buffer.from("anything"), parts), true);
  });
});

describe("parseFrames / serializeMessage", () => {
  const signer = new MessageSigner("hmac-sha256", "k");

  test("round-trips ids, header, content and buffers", () => {
    const ids = [Buffer.from("client-identity")];
    const sent = message("execute_request", { code: "1+1" });
    sent.buffers = [Buffer.from([1, 2, 3])];
    const { ids: receivedIds, message: received } = parseFrames(serializeMessage(ids, sent, signer), signer);
    assert.deepEqual(receivedIds, ids);
    assert.deepEqual(received.header, sent.header);
    assert.deepEqual(received.parent_header, {});
    assert.deepEqual(received.content, { code: "1+1" });
    assert.deepEqual(received.buffers, [Buffer.from([1, 2, 3])]);
  });

  test("encodeMessage keeps text frames as strings, signed over their UTF-8 bytes; buffers stay buffers", () => {
    const sent = message("execute_request", { code: "π = 3.14159 // ünïcode" });
    sent.buffers = [Buffer.from([9, 8])];
    const encoded = encodeMessage(["kernel.s.execute_request"], sent, signer);
    assert.deepEqual(encoded.slice(0, 2), ["kernel.s.execute_request", "<IDS|MSG>"]);
    assert.ok(encoded.slice(2, 7).every((frame) => typeof frame === "string"));
    assert.deepEqual(encoded[7], Buffer.from([9, 8]));
    const asBuffers = encoded.map((frame) => (typeof frame === "string" ? Buffer.from(frame) : frame));
    assert.deepEqual(asBuffers, serializeMessage([Buffer.from("kernel.s.execute_request")], sent, signer));
    const { message: received } = parseFrames(asBuffers, signer);
    assert.deepEqual(received.content, { code: "π = 3.14159 // ünïcode" });
  });

  test("rejects missing delimiter, short messages, bad signatures, bad JSON, bad headers and oversize", () => {
    const good = serializeMessage([], message("kernel_info_request", {}), signer);
    assert.match(codeOf(() => parseFrames([Buffer.from("x")], signer)), /^PROTOCOL_FRAMES: no <IDS\|MSG> delimiter among 1 frames/);
    assert.match(codeOf(() => parseFrames(good.slice(0, 4), signer)), /^PROTOCOL_FRAMES: expected signature, header/);
    const forged = [...good];
    forged[1] = Buffer.from("f".repeat(64));
    assert.match(codeOf(() => parseFrames(forged, signer)), /^PROTOCOL_SIGNATURE: invalid signature "ffff/);
    const unsigned = new MessageSigner("hmac-sha256", "");
    const badJson = [Buffer.from("<IDS|MSG>"), Buffer.from(""), Buffer.from("{oops"), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
    assert.match(codeOf(() => parseFrames(badJson, unsigned)), /^PROTOCOL_JSON: header is not valid JSON: "\{oops"/);
    const arrayContent = [...badJson.slice(0, 2), Buffer.from(JSON.stringify(header("x"))), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("[1]")];
    assert.match(codeOf(() => parseFrames(arrayContent, unsigned)), /^PROTOCOL_JSON: content must be a JSON object, got \[1\]/);
    const noMsgId = [...badJson.slice(0, 2), Buffer.from('{"msg_type":"x","session":"s"}'), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
    assert.match(codeOf(() => parseFrames(noMsgId, unsigned)), /^PROTOCOL_HEADER: header needs string msg_id/);
    assert.match(codeOf(() => parseFrames(good, signer, 100)), /^PROTOCOL_TOO_LARGE: message of \d+ bytes exceeds the limit of 100 bytes/);
  });
});

describe("parseConnectionInfo", () => {
  const valid = { transport: "tcp", ip: "127.0.0.1", shell_port: 1, control_port: 2, stdin_port: 3, iopub_port: 4, hb_port: 5, key: "k", signature_scheme: "hmac-sha256" };

  test("accepts a jupyter_client connection file and builds tcp and ipc endpoints", () => {
    const info = parseConnectionInfo(valid);
    assert.equal(info.ports.iopub, 4);
    assert.equal(channelEndpoint(info, "hb"), "tcp://127.0.0.1:5");
    assert.equal(channelEndpoint(parseConnectionInfo({ ...valid, transport: "ipc", ip: "/tmp/k" }), "shell"), "ipc:///tmp/k-1");
  });

  test("rejects an unsupported signature scheme, bad ports and transports, naming the value", () => {
    assert.match(codeOf(() => parseConnectionInfo({ ...valid, signature_scheme: "hmac-md5" }, "c.json")), /^PROTOCOL_CONNECTION_FILE: c.json: unsupported signature_scheme "hmac-md5"/);
    assert.match(codeOf(() => parseConnectionInfo({ ...valid, hb_port: "5" })), /hb_port must be an integer port 1-65535, got "5"/);
    assert.match(codeOf(() => parseConnectionInfo({ ...valid, transport: "udp" })), /unsupported transport "udp"/);
    assert.match(codeOf(() => parseConnectionInfo([])), /expected a JSON object, got \[\]/);
  });
});

describe("parseRequest", () => {
  test("fills execute_request defaults and forces store_history off when silent", () => {
    assert.deepEqual(parseRequest("execute_request", { code: "1" }), {
      msg_type: "execute_request",
      content: { code: "1", silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true },
    });
    const silent = parseRequest("execute_request", { code: "1", silent: true, store_history: true });
    assert.equal(silent?.msg_type === "execute_request" && silent.content.store_history, false);
  });

  test("validates every field it reads, quoting the bad value", () => {
    assert.match(codeOf(() => parseRequest("execute_request", { code: 1 })), /^PROTOCOL_CONTENT: execute_request: code must be a string, got 1/);
    assert.match(codeOf(() => parseRequest("execute_request", { code: "", user_expressions: { a: 1 } })), /user_expressions.a must be a string, got 1/);
    assert.match(codeOf(() => parseRequest("complete_request", { code: "ab", cursor_pos: -1 })), /cursor_pos must be between 0 and 2, got -1/);
    // Past the end is the end, as ipykernel takes it (JupyterLab's completer sends one past it).
    assert.deepEqual(parseRequest("inspect_request", { code: "ab", cursor_pos: 3 }), { msg_type: "inspect_request", content: { code: "ab", cursor_pos: 2, detail_level: 0 } });
    assert.match(codeOf(() => parseRequest("inspect_request", { code: "a", cursor_pos: 1, detail_level: 2 })), /detail_level must be 0 or 1, got 2/);
    assert.match(codeOf(() => parseRequest("history_request", { hist_access_type: "all" })), /hist_access_type must be "tail", "range" or "search", got "all"/);
    assert.match(codeOf(() => parseRequest("comm_open", { comm_id: "c", target_name: "t", data: [] })), /comm_open: data must be an object, got \[\]/);
    assert.match(codeOf(() => parseRequest("shutdown_request", { restart: "yes" })), /restart must be a boolean, got "yes"/);
  });

  test("parses the other request types with spec defaults", () => {
    assert.deepEqual(parseRequest("complete_request", { code: "abc", cursor_pos: null })?.content, { code: "abc", cursor_pos: 3 });
    assert.deepEqual(parseRequest("history_request", { hist_access_type: "search", pattern: "a*" })?.content, {
      output: false,
      raw: true,
      hist_access_type: "search",
      pattern: "a*",
      n: null,
      unique: false,
    });
    assert.deepEqual(parseRequest("history_request", { hist_access_type: "range", session: -1 })?.content, {
      output: false,
      raw: true,
      hist_access_type: "range",
      session: -1,
      start: 1,
      stop: null,
    });
    assert.deepEqual(parseRequest("comm_info_request", {})?.content, {});
    assert.deepEqual(parseRequest("input_reply", { value: "x" })?.content, { value: "x" });
    assert.deepEqual(parseRequest("interrupt_request", {}), { msg_type: "interrupt_request", content: {} });
    assert.equal(parseRequest("frobnicate_request", {}), undefined);
    assert.equal(parseRequest("toString", {}), undefined);
  });
});

describe("childOf", () => {
  test("derives the header from the request: new id, same session and username, version 5.3", () => {
    const request = message("kernel_info_request", {});
    const reply = childOf(request, "status", { execution_state: "busy" });
    assert.notEqual(reply.header.msg_id, request.header.msg_id);
    assert.equal(reply.header.msg_type, "status");
    assert.equal(reply.header.session, "s-1");
    assert.equal(reply.header.username, "ada");
    assert.equal(reply.header.version, "5.3");
    assert.ok(!Number.isNaN(Date.parse(reply.header.date)));
    assert.deepEqual(reply.parent_header, request.header);
    assert.deepEqual(reply.content, { execution_state: "busy" });
  });

  test("unknown request types get <base>_reply with an error", () => {
    const reply = errorReplyTo(message("debug_request", {}), { ename: "UnknownMessageType", evalue: "no", traceback: [] });
    assert.equal(reply.header.msg_type, "debug_reply");
    assert.deepEqual(reply.content, { status: "error", ename: "UnknownMessageType", evalue: "no", traceback: [] });
  });
});
