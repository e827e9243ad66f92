/** The kernel process outside jupyter_client: ipc transport, signing disabled, bad connection files. */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import * as zmq from "zeromq";
import { clientFrames, fixtureKernelScript, makeTempDir, spawnChild, writeConnectionFile } from "./helpers.js";

describe("kernel process", () => {
  test("serves over ipc with signing disabled (empty key), then shuts down on request with exit 0", async () => {
    const temp = await makeTempDir("ipc");
    const base = join(temp.path, "k");
    const file = join(temp.path, "connection.json");
    await writeFile(
      file,
      JSON.stringify({ transport: "ipc", ip: base, shell_port: 1, control_port: 2, stdin_port: 3, iopub_port: 4, hb_port: 5, key: "", signature_scheme: "hmac-sha256" }),
    );
    const kernel = spawnChild(process.execPath, [fixtureKernelScript, "-f", file], { RINGBOOK_HISTORY_FILE: join(temp.path, "history.jsonl") });
    const shell = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
    const control = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
    try {
      shell.connect(`ipc://${base}-1`);
      control.connect(`ipc://${base}-2`);
      await shell.send(clientFrames("", "execute_request", { code: "6 * 7" }, { signature: "" }));
      const reply = await shell.receive();
      assert.equal((reply[1] as Buffer).toString(), "", "signature frame is empty when signing is disabled");
      assert.deepEqual(JSON.parse((reply[5] as Buffer).toString()), { status: "ok", execution_count: 1, payload: [], user_expressions: {} });

      await control.send(clientFrames("", "shutdown_request", { restart: false }, { signature: "" }));
      const shutdown = await control.receive();
      assert.equal(JSON.parse((shutdown[2] as Buffer).toString()).msg_type, "shutdown_reply");
      assert.equal(await kernel.exited, 0);
    } finally {
      shell.close();
      control.close();
      kernel.kill();
      await kernel.exited;
      await temp.remove();
    }
  });

  test("an unsupported signature_scheme is a clear startup error", async () => {
    const temp = await makeTempDir("bad-scheme");
    const file = join(temp.path, "connection.json");
    await writeFile(
      file,
      JSON.stringify({ ip: "127.0.0.1", shell_port: 1, control_port: 2, stdin_port: 3, iopub_port: 4, hb_port: 5, key: "k", signature_scheme: "hmac-sha1" }),
    );
    const kernel = spawnChild(process.execPath, [fixtureKernelScript, "-f", file]);
    try {
      assert.notEqual(await kernel.exited, 0);
      assert.match(kernel.stderr(), /unsupported signature_scheme "hmac-sha1" in the connection file; ringbook supports hmac-sha256/);
    } finally {
      kernel.kill();
      await temp.remove();
    }
  });

  test("answers kernel_info while the executor still starts, and runs cells once it has started", async () => {
    const temp = await makeTempDir("slow-executor");
    const connection = await writeConnectionFile(temp.path, "k");
    const kernel = spawnChild(process.execPath, [fixtureKernelScript, "-f", connection.file], {
      RINGBOOK_HISTORY_FILE: join(temp.path, "history.jsonl"),
      FIXTURE_EXECUTOR_START_MS: "1500",
    });
    const shell = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
    const control = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
    try {
      shell.connect(`tcp://127.0.0.1:${connection.ports.shell}`);
      control.connect(`tcp://127.0.0.1:${connection.ports.control}`);
      await shell.send(clientFrames("k", "kernel_info_request", {}));
      const info = await shell.receive();
      assert.equal(JSON.parse((info[2] as Buffer).toString()).msg_type, "kernel_info_reply");
      assert.doesNotMatch(kernel.stderr(), /fixture executor started/, "kernel_info was answered before the executor started");

      await shell.send(clientFrames("k", "execute_request", { code: "6 * 7" }));
      const reply = await shell.receive();
      assert.equal(JSON.parse((reply[5] as Buffer).toString()).status, "ok");
      assert.match(kernel.stderr(), /fixture executor started/);

      await control.send(clientFrames("k", "shutdown_request", { restart: false }));
      await control.receive();
      assert.equal(await kernel.exited, 0);
    } finally {
      shell.close();
      control.close();
      kernel.kill();
      await kernel.exited;
      await temp.remove();
    }
  });

  test("an executor that cannot start ends the process with exit 1, naming the cause", async () => {
    const temp = await makeTempDir("failing-executor");
    const connection = await writeConnectionFile(temp.path, "k");
    const kernel = spawnChild(process.execPath, [fixtureKernelScript, "-f", connection.file], {
      RINGBOOK_HISTORY_FILE: join(temp.path, "history.jsonl"),
      FIXTURE_EXECUTOR_START_MS: "200",
      FIXTURE_EXECUTOR_START_FAILS: "1",
    });
    try {
      assert.notEqual(await kernel.exited, 0);
      assert.match(kernel.stderr(), /the executor could not start: fixture executor failed on purpose/);
    } finally {
      kernel.kill();
      await temp.remove();
    }
  });
});
