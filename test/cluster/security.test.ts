/**
 * Only the cluster's own processes may talk on its sockets. A worker runs nothing that is not
 * signed with the cluster secret; a connection without the secret-derived password is refused at
 * the handshake; the ipc directory is private; forged or malformed messages are dropped with a
 * log line, and the worker says why when it can.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import * as zmq from "zeromq";
import { launchCluster, type Cluster } from "../../lib/index.js";
import { clusterProtocolVersion, encodeToWorker, parseFromWorker, parseToWorker, type FromWorker } from "../../lib/cluster/messages.js";
import { ControlChannel } from "../../lib/cluster/control-channel.js";
import { ClusterSecret } from "../../lib/transport/cluster-secret.js";
import { PrivateDir } from "../../lib/transport/private-dir.js";
import { signFrames, verifyFrames } from "../../lib/transport/signed-frames.js";
import { ZapAuthenticator, zapClientOptions, zapServerOptions, type ZapRegistration } from "../../lib/transport/zap-authenticator.js";
import { killIfAlive } from "./helpers.js";

const workerScript = fileURLToPath(new URL("../../lib/cluster/worker-process.js", import.meta.url));

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A stand-in owner: binds a control socket and starts one real worker process against it. */
class FakeOwner {
  readonly secret = ClusterSecret.generate();
  readonly received: Array<FromWorker & { rank: number }> = [];
  dir!: PrivateDir;
  router!: zmq.Router;
  zap!: ZapRegistration;
  worker!: ChildProcess;
  workerStderr = "";
  #loop: Promise<void> | undefined;

  async start(): Promise<void> {
    this.dir = await PrivateDir.create();
    this.zap = await ZapAuthenticator.register("fake-owner", { mechanism: "PLAIN", password: this.secret.socketPassword });
    this.router = new zmq.Router({ ...zapServerOptions("fake-owner"), linger: 0 });
    const endpoint = this.dir.endpoint("control");
    await this.router.bind(endpoint);
    this.#loop = this.#receive();
    this.worker = spawn(process.execPath, [workerScript], { stdio: ["pipe", "ignore", "pipe"] });
    this.worker.stderr?.on("data", (chunk: Buffer) => (this.workerStderr += chunk.toString()));
    this.worker.stdin?.write(
      `${JSON.stringify({ clusterId: "fake", rank: 0, incarnation: 0, worldSize: 1, controlEndpoint: endpoint, secretHex: this.secret.toHex(), curveKeys: null, backend: "cpu", gpu: false, cwd: this.dir.path })}\n`,
    );
    await this.waitFor((message) => message.type === "ready", 20_000);
  }

  async #receive(): Promise<void> {
    try {
      for await (const [, ...frames] of this.router) {
        const verified = verifyFrames(this.secret.signingKey, frames);
        if (verified.ok) this.received.push(parseFromWorker(verified.header));
      }
    } catch {
      // closed
    }
  }

  async waitFor(predicate: (message: FromWorker) => boolean, timeoutMs = 5000): Promise<FromWorker> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(predicate);
      if (found) return found;
      if (performance.now() > deadline) throw new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.received)}; worker stderr: ${this.workerStderr}`);
      await sleep(10);
    }
  }

  async sendFrames(frames: Buffer[]): Promise<void> {
    await this.router.send([Buffer.from("w0.0"), ...frames]);
  }

  async close(): Promise<void> {
    this.worker.stdin?.end();
    await new Promise((resolve) => {
      if (this.worker.exitCode !== null) resolve(undefined);
      else this.worker.once("exit", resolve);
    });
    this.router.close();
    await this.#loop;
    await this.zap.release();
    await this.dir.remove();
  }
}

describe("cluster security", () => {
  describe("a worker", () => {
    const owner = new FakeOwner();
    before(async () => {
      await owner.start();
    });
    after(async () => {
      killIfAlive(owner.worker.pid);
      await owner.close();
    });

    function taskWritingFile(path: string, taskId: string): Buffer {
      return encodeToWorker({ type: "task", taskId, task: { kind: "function", source: `async () => (await import("node:fs")).writeFileSync(${JSON.stringify(path)}, "ran")` } });
    }

    it("runs nothing sent without the cluster secret, says why, and still runs signed work", async () => {
      const marker = join(owner.dir.path, "ran-unsigned");
      const stranger = ClusterSecret.generate();
      // Signed with another key, unsigned, truncated: all dropped.
      await owner.sendFrames(signFrames(stranger.signingKey, taskWritingFile(marker, "forged")));
      await owner.sendFrames([Buffer.alloc(32), taskWritingFile(marker, "unsigned")]);
      await owner.sendFrames([taskWritingFile(marker, "one-frame")]);
      await owner.waitFor((message) => message.type === "rejected" && /bad signature/.test(message.reason));
      await owner.waitFor((message) => message.type === "rejected" && /expected at least 2 frames/.test(message.reason));
      await sleep(200);
      assert.equal(existsSync(marker), false, "no forged task ran");
      assert.match(owner.workerStderr, /dropped a control message: bad signature/);
      assert.equal(owner.received.filter((message) => message.type === "result").length, 0);

      // Correctly signed but not a valid message: rejected with the reason.
      await owner.sendFrames(signFrames(owner.secret.signingKey, Buffer.from(JSON.stringify({ v: clusterProtocolVersion, type: "launchMissiles" }))));
      await owner.waitFor((message) => message.type === "rejected" && /unknown message type for a worker/.test(message.reason));
      await owner.sendFrames(signFrames(owner.secret.signingKey, Buffer.from(JSON.stringify({ v: 99, type: "ping", seq: 1 }))));
      await owner.waitFor((message) => message.type === "rejected" && /protocol version mismatch: this side speaks version 1, got 99/.test(message.reason));

      // The same task, signed: it runs.
      const signed = join(owner.dir.path, "ran-signed");
      await owner.sendFrames(
        signFrames(owner.secret.signingKey, encodeToWorker({ type: "task", taskId: "signed", task: { kind: "cell", code: `(await import("node:fs")).writeFileSync(${JSON.stringify(signed)}, "ran")`, name: "cell" } })),
      );
      await owner.waitFor((message) => message.type === "result" && message.taskId === "signed");
      assert.equal(existsSync(signed), true);
    });
  });

  describe("a cluster's sockets", () => {
    let cluster: Cluster;
    const logs: string[] = [];
    before(async () => {
      cluster = await launchCluster({ workers: 1, log: (line) => logs.push(line) });
    });
    after(async () => {
      await cluster.close();
    });

    it("live in a directory only the user can open", () => {
      assert.equal(statSync(cluster.ipcDirectory).mode & 0o777, 0o700);
    });

    it("refuse connections without the password and drop messages without the signature", async () => {
      const anonymous = new zmq.Dealer({ routingId: "w0.0", linger: 0 });
      anonymous.connect(cluster.controlEndpoint);
      await anonymous.send([Buffer.alloc(32), Buffer.from("{}")]);
      const wrongPassword = new zmq.Dealer({ routingId: "w0.0", linger: 0, ...zapClientOptions("not-the-password") });
      wrongPassword.connect(cluster.controlEndpoint);
      await wrongPassword.send([Buffer.alloc(32), Buffer.from("{}")]);
      await sleep(300);
      assert.ok(
        logs.some((line) => /refused a connection .*wrong password/.test(line)),
        `a refusal is logged: ${logs.join("\n")}`,
      );
      anonymous.close();
      wrongPassword.close();
      assert.deepEqual(await cluster.run(({ rank }) => rank), [0], "the cluster is unaffected");
    });
  });

  it("drop messages from a connection that has the password but not the signing key", async () => {
    const secret = ClusterSecret.generate();
    const dir = await PrivateDir.create();
    const logs: string[] = [];
    const channel = await ControlChannel.bind({ bindAddress: dir.endpoint("control"), secret, security: { mechanism: "plain", password: secret.socketPassword }, zapDomain: "forgery-test", log: (line) => logs.push(line) });
    const delivered: unknown[] = [];
    channel.start((message) => delivered.push(message));
    const forger = new zmq.Dealer({ routingId: "w0.0", linger: 0, ...zapClientOptions(secret.socketPassword) });
    forger.connect(channel.endpoint);
    try {
      const header = Buffer.from(JSON.stringify({ v: clusterProtocolVersion, type: "pong", seq: 1, busy: false, rank: 0, incarnation: 0 }));
      await forger.send(signFrames(ClusterSecret.generate().signingKey, header));
      // Correctly signed, but claiming another rank than its connection: also dropped.
      await forger.send(signFrames(secret.signingKey, Buffer.from(JSON.stringify({ v: clusterProtocolVersion, type: "pong", seq: 2, busy: false, rank: 1, incarnation: 0 }))));
      await forger.send(signFrames(secret.signingKey, header));
      const deadline = performance.now() + 2000;
      while (delivered.length === 0 && performance.now() < deadline) await sleep(10);
      assert.deepEqual(delivered, [{ type: "pong", seq: 1, busy: false, rank: 0, incarnation: 0, payload: null }], "only the signed, consistent message is delivered");
      assert.ok(logs.some((line) => /dropped a message from connection "w0.0": bad signature/.test(line)), logs.join("\n"));
      assert.ok(logs.some((line) => /claiming rank 1.0 on connection "w0.0"/.test(line)), logs.join("\n"));
    } finally {
      forger.close();
      await channel.close();
      await dir.remove();
    }
  });

  it("parses every message at the boundary with clear errors", () => {
    assert.throws(() => parseToWorker("not json"), /header is not JSON/);
    assert.throws(() => parseToWorker(JSON.stringify([1])), /header must be a JSON object/);
    assert.throws(() => parseToWorker(JSON.stringify({ v: 1, type: "task", taskId: 5, task: { kind: "function", source: "" } })), /field taskId must be a string, got 5/);
    assert.throws(() => parseToWorker(JSON.stringify({ v: 1, type: "task", taskId: "t", task: { kind: "shell" } })), /unknown task kind, got "shell"/);
    assert.throws(() => parseFromWorker(JSON.stringify({ v: 1, type: "pong", seq: 1, busy: true })), /field rank must be an integer/);
    assert.throws(() => parseFromWorker(JSON.stringify({ v: 1, type: "output", rank: 0, incarnation: 0, taskId: null, stream: "stdin", text: "" })), /stream must be stdout or stderr/);
    assert.deepEqual(parseToWorker(encodeToWorker({ type: "interrupt", taskId: null })), { type: "interrupt", taskId: null });
  });
});
