/**
 * A tcp cluster's links are CURVE-encrypted by default: describe() says so, collectives work, and
 * a process on the network without the cluster's keys gets nothing through, neither on the owner's
 * control port nor on a worker's peer port, even with the PLAIN password the links used before
 * (PLAIN sends it in clear, so anyone who captured a link had it) and even holding the signing
 * key: the handshake fails before any message. A worker binds only its peer socket (run requests
 * come over the connection it opened to the owner), so a signed run request sent there is the
 * best an intruder can try; it never runs. `linkEncryption: "none"` is the measured opt-out.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as zmq from "zeromq";
import { encodeHeader } from "../../lib/collectives/frame-header.js";
import { routingIdOf as meshRoutingIdOf } from "../../lib/collectives/mesh-messages.js";
import { toRank } from "../../lib/ids.js";
import { launchCluster, type Cluster } from "../../lib/index.js";
import { encodeFromWorker, encodeToWorker } from "../../lib/cluster/messages.js";
import { parseWorkerBootstrapValue, type WorkerBootstrap } from "../../lib/cluster/worker-bootstrap.js";
import { ClusterSecret } from "../../lib/transport/cluster-secret.js";
import { clientSocketOptions } from "../../lib/transport/link-security.js";
import { signFrames } from "../../lib/transport/signed-frames.js";
import { listeningTcpPorts } from "../helpers/listening-ports.js";
import { SocketIntruder } from "../helpers/socket-intruder.js";

/** Sum of `[rank + 1, 1]` over the ranks of a world of two. */
const expectedSums = [3, 2];

function allReduceRanks(cluster: Cluster): Promise<number[][]> {
  return cluster.run(async ({ collectives, rank }) => Array.from(await collectives.allReduce(new Float32Array([rank + 1, 1]))));
}

/** Resolves once `condition` holds (checked every 10 ms); rejects when `signal` aborts. */
async function until(condition: () => boolean, signal: AbortSignal): Promise<void> {
  while (!condition()) {
    signal.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** What rank 0 was told at start (the secret and the keys): task code runs with the worker's rights. */
async function bootstrapOfRank0(cluster: Cluster): Promise<WorkerBootstrap> {
  const [workerData] = await cluster.run(async () => (await import("node:worker_threads")).workerData, { ranks: [0] });
  return parseWorkerBootstrapValue(workerData);
}

describe("a tcp cluster's links", () => {
  describe("by default", () => {
    let cluster: Cluster;
    let markerDir: string;
    const logs: string[] = [];
    before(async () => {
      markerDir = await mkdtemp(join(tmpdir(), "ringbook-curve-"));
      cluster = await launchCluster({ workers: 2, transport: "tcp", networkInterface: "127.0.0.1", backend: "cpu", log: (line) => logs.push(line) });
    });
    after(async () => {
      await cluster?.close();
      await rm(markerDir, { recursive: true, force: true });
    });

    it("are CURVE-encrypted, say so in describe(), and carry an all-reduce", async () => {
      assert.deepEqual(cluster.describe().map((row) => row.link), ["tcp+curve", "tcp+curve"]);
      const bootstrap = await bootstrapOfRank0(cluster);
      assert.notEqual(bootstrap.curveKeys, null, "the workers got the cluster's CURVE keys");
      assert.deepEqual(await allReduceRanks(cluster), [expectedSums, expectedSums]);
      assert.ok(!logs.some((line) => /WARNING/.test(line)), logs.join("\n"));
    });

    it("refuse, at the handshake, every connection without the cluster's keys to the control port and to a worker's peer port; the cluster works on", { timeout: 60_000 }, async (t) => {
      const bootstrap = await bootstrapOfRank0(cluster);
      const keys = bootstrap.curveKeys;
      assert.ok(keys !== null);
      const secret = ClusterSecret.fromHex(bootstrap.secretHex);
      const rank1Pid = cluster.describe()[1]?.pid;
      assert.ok(typeof rank1Pid === "number");
      const peerPorts = listeningTcpPorts(rank1Pid);
      assert.equal(peerPorts.length, 1, `rank 1 listens on its peer socket alone: ${JSON.stringify(peerPorts)}`);
      const targets = { control: cluster.controlEndpoint, peer: `tcp://127.0.0.1:${peerPorts[0]}` };

      // Correctly signed: if it got in, the owner would log a pong from the unknown incarnation 9.
      const pong = signFrames(secret.signingKey, encodeFromWorker({ type: "pong", seq: 1, busy: false }, { rank: toRank(0), incarnation: 9 }));
      const marker = join(markerDir, "ran");
      const runRequest = signFrames(secret.signingKey, encodeToWorker({ type: "task", taskId: "intruder", task: { kind: "function", source: `async () => (await import("node:fs")).writeFileSync(${JSON.stringify(marker)}, "ran")` } }));
      // What rank 0 sends rank 1 first in the next allReduce, with absurd values.
      const forgedChunk = [encodeHeader({ kind: "allReduce", dtype: "float32", source: 0, sequence: 3, step: 0, chunk: 0, count: 1, total: 2 }), Buffer.from(new Float32Array([1e9]).buffer)];
      const stranger = zmq.curveKeyPair();
      const kinds = [
        { name: "no security", options: {} },
        { name: "PLAIN with the cluster's password", options: clientSocketOptions({ mechanism: "plain", password: secret.socketPassword }) },
        { name: "a fresh CURVE keypair", options: { curveServerKey: keys.serverPublicKey, curvePublicKey: stranger.publicKey, curveSecretKey: stranger.secretKey } },
      ];
      const intruders = [
        ...kinds.map((kind) => ({ target: targets.control, frames: [pong], socket: new SocketIntruder(`${kind.name} at the control port`, { ...kind.options, routingId: "w0.9" }) })),
        ...kinds.map((kind) => ({ target: targets.peer, frames: [forgedChunk, runRequest], socket: new SocketIntruder(`${kind.name} at rank 1's peer port`, { ...kind.options, routingId: meshRoutingIdOf(0) }) })),
      ];
      const members = {
        control: new SocketIntruder("the cluster's client keys at the control port", { ...clientSocketOptions({ mechanism: "curve", keys }), routingId: "w0.9" }),
        peer: new SocketIntruder("the cluster's client keys at rank 1's peer port", { ...clientSocketOptions({ mechanism: "curve", keys }), routingId: "member-probe" }),
      };
      try {
        const signal = AbortSignal.timeout(30_000);
        for (const { target, frames, socket } of intruders) {
          await socket.connect(target);
          for (const message of frames) await socket.dealer.send(message);
        }
        const outcomes = await Promise.all(intruders.map(({ socket }) => socket.handshakes(1, signal)));
        for (const [index, { socket }] of intruders.entries()) {
          t.diagnostic(`${socket.name}: ${outcomes[index]!.join(", ")}`);
          assert.ok(!socket.events.includes("handshake"), `${socket.name} completed a handshake: ${socket.events.join(", ")}`);
        }
        assert.ok(logs.some((line) => new RegExp(`refused a connection to .* CURVE client key ${stranger.publicKey.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not the cluster's`).test(line)), logs.join("\n"));

        // The control for the test itself: the same signed pong over a connection with the
        // cluster's keys does reach the owner, which logs it; a keyed connection to a peer port
        // completes its handshake.
        await members.control.connect(targets.control, pong);
        await members.peer.connect(targets.peer);
        assert.deepEqual(await members.peer.handshakes(1, signal), ["handshake"]);
        assert.deepEqual(await members.control.handshakes(1, signal), ["handshake"]);
        await until(() => logs.some((line) => /message pong from unknown worker 0\.9/.test(line)), signal);
        assert.equal(logs.filter((line) => /unknown worker 0\.9/.test(line)).length, 1, `only the keyed connection's pong got in:\n${logs.join("\n")}`);
        assert.ok(!logs.some((line) => /dropped a message/.test(line)), logs.join("\n"));
      } finally {
        await Promise.all([...intruders.map(({ socket }) => socket.close()), members.control.close(), members.peer.close()]);
      }
      assert.deepEqual(await allReduceRanks(cluster), [expectedSums, expectedSums], "the mesh took no forged chunk and still works");
      assert.equal(existsSync(marker), false, "no intruder's run request ran");
    });
  });

  // After the intruders, in the same process: a cluster launched here once never finished its
  // handshakes, because the intruders' helper closed each socket's monitor before the socket, and
  // libzmq's I/O thread then blocked for good sending the socket's teardown events to it.
  describe("with linkEncryption \"none\"", () => {
    let cluster: Cluster;
    const logs: string[] = [];
    before(async () => {
      cluster = await launchCluster({ workers: 2, transport: "tcp", networkInterface: "127.0.0.1", backend: "cpu", linkEncryption: "none", log: (line) => logs.push(line) }).catch((error: unknown) => {
        throw new Error(`launch failed; the cluster's log:\n${logs.join("\n")}`, { cause: error });
      });
    });
    after(async () => {
      await cluster?.close();
    });

    it("travel unencrypted, say so in describe(), and warn once", async () => {
      assert.deepEqual(cluster.describe().map((row) => row.link), ["tcp (unencrypted)", "tcp (unencrypted)"]);
      assert.equal((await bootstrapOfRank0(cluster)).curveKeys, null);
      assert.deepEqual(await allReduceRanks(cluster), [expectedSums, expectedSums]);
      await cluster.resize(3);
      await cluster.resize(2);
      assert.equal(logs.filter((line) => /WARNING linkEncryption "none"/.test(line)).length, 1, logs.join("\n"));
    });
  });

  it("refuse an unknown linkEncryption, listing the valid ones", async () => {
    await assert.rejects(
      // @ts-expect-error: a value TypeScript refuses, as plain JavaScript may pass it
      launchCluster({ workers: 1, transport: "tcp", linkEncryption: "tls" }),
      (error: unknown) => error instanceof Error && /linkEncryption must be one of "curve", "none", got "tls"/.test(error.message),
    );
  });
});
