/**
 * The test client (kernel/client) against raw sockets that play a kernel which never answers: its
 * requests settle on close() instead of waiting forever.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as zmq from "zeromq";
import { KernelClient } from "../../kernel/client/kernel-client.js";
import { parseConnectionInfo } from "../../kernel/protocol/connection-info.js";

/** The port of a socket bound to tcp://127.0.0.1:*. */
function portOf(socket: zmq.Socket): number {
  const port = Number(/:(\d+)$/.exec(socket.lastEndpoint ?? "")?.[1]);
  assert.ok(Number.isInteger(port), `no port in ${String(socket.lastEndpoint)}`);
  return port;
}

describe("KernelClient", () => {
  test("close() rejects the requests still waiting for their reply, and later requests", async () => {
    const shell = new zmq.Router({ linger: 0 });
    const control = new zmq.Router({ linger: 0 });
    const iopub = new zmq.Publisher({ linger: 0 });
    try {
      await Promise.all([shell.bind("tcp://127.0.0.1:*"), control.bind("tcp://127.0.0.1:*"), iopub.bind("tcp://127.0.0.1:*")]);
      const info = parseConnectionInfo({
        transport: "tcp",
        ip: "127.0.0.1",
        shell_port: portOf(shell),
        control_port: portOf(control),
        iopub_port: portOf(iopub),
        // Not connected by this client.
        stdin_port: 1,
        hb_port: 2,
        key: "",
        signature_scheme: "hmac-sha256",
      });
      const client = new KernelClient(info);
      const executing = client.request("shell", "execute_request", { code: "1", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
      const interrupting = client.request("control", "interrupt_request", {});
      // Both reached the "kernel", which never answers: they are pending, not unsent.
      const [shellFrames, controlFrames] = await Promise.all([shell.receive(), control.receive()]);
      assert.ok(shellFrames.some((frame) => frame.toString().includes('"execute_request"')));
      assert.ok(controlFrames.some((frame) => frame.toString().includes('"interrupt_request"')));

      await client.close();
      await assert.rejects(executing, { code: "ERR_CLIENT_CLOSED", message: /execute_request .* got no reply: the kernel client closed/ });
      await assert.rejects(interrupting, { code: "ERR_CLIENT_CLOSED", message: /interrupt_request .* got no reply: the kernel client closed/ });
      await assert.rejects(client.request("shell", "kernel_info_request", {}), { code: "ERR_CLIENT_CLOSED", message: "cannot send kernel_info_request: the kernel client is closed" });
      await client.close();
    } finally {
      shell.close();
      control.close();
      iopub.close();
    }
  });
});
