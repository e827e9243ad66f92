import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import * as zmq from "zeromq";
import { encodeHeader } from "../../lib/collectives/frame-header.js";
import { zapClientOptions } from "../../lib/transport/zap-authenticator.js";
import { RankCluster } from "./rank-cluster.js";
import { closeMonitored } from "../helpers/socket-intruder.js";

/** A socket of this test process posing as a peer; records its connection events. */
class Intruder {
  readonly dealer: zmq.Dealer;
  readonly events: string[] = [];
  readonly #observer: zmq.Observer;
  readonly #watching: Promise<void>;

  constructor(options: { plainUsername?: string; plainPassword?: string }) {
    const dealer = new zmq.Dealer({ linger: 0, receiveTimeout: 300, ...options });
    this.dealer = dealer;
    // Held, not read again from `dealer.events`: after the socket closed, that getter throws.
    const observer = dealer.events;
    this.#observer = observer;
    this.#watching = (async () => {
      try {
        for await (const event of observer) this.events.push(event.type);
      } catch (error) {
        // Closing the observer settles its pending receive, sometimes as ENOTSOCK.
        if (!observer.closed) throw error;
      }
    })();
  }

  close(): Promise<void> {
    return closeMonitored(this.dealer, this.#observer, this.#watching);
  }
}

test("a process without the password, or with a wrong one, gets no message into a mesh socket and none out of it", async (t) => {
  const cluster = await RankCluster.start(2);
  const intruders = [new Intruder({}), new Intruder(zapClientOptions("not the cluster password"))];
  try {
    // What rank 1 would send rank 0 first in the coming allReduce, with absurd values: if either
    // got in, rank 0 would refuse it (unknown connection) or sum it, and the allReduce would fail.
    const forged = [encodeHeader({ kind: "allReduce", dtype: "float32", source: 1, sequence: 1, step: 0, chunk: 0, count: 2, total: 4 }), Buffer.from(new Float32Array([1e9, 1e9]).buffer)];
    for (const intruder of intruders) {
      intruder.dealer.connect(cluster.endpoints[0]!);
      await intruder.dealer.send(forged);
    }
    await delay(500); // several connection attempts
    const [rank0, rank1] = await cluster.run([{ op: "allReduce", length: 4, seed: 5, values: "integers", reduce: "sum", oracle: true, returnValues: false }]);
    for (const outcome of [rank0!, rank1!]) {
      assert.ok(outcome.ok, outcome.ok ? "" : outcome.message);
      const [result] = outcome.results;
      assert.ok(result?.op === "allReduce" && result.ringMatchesExpected && result.starMatchesExpected === true);
    }
    for (const intruder of intruders) await assert.rejects(intruder.dealer.receive(), { code: "EAGAIN" }, "the mesh never sends to an intruder");
    t.diagnostic(`no password: ${[...new Set(intruders[0]!.events)].join(", ")}; wrong password: ${[...new Set(intruders[1]!.events)].join(", ")}`);
    for (const intruder of intruders) {
      assert.ok(!intruder.events.includes("handshake"), `an intruder completed a handshake: ${intruder.events.join(", ")}`);
      assert.ok(intruder.events.some((type) => type.startsWith("handshake:error")), `no handshake failure seen: ${intruder.events.join(", ")}`);
    }
    assert.ok(
      cluster.logs(0).some((line) => /refused a connection to ".*" from .*: wrong password/.test(line)),
      `rank 0 logged no refusal: ${cluster.logs(0).join(" | ")}`,
    );
  } finally {
    await Promise.all(intruders.map((intruder) => intruder.close()));
    await cluster.close();
  }
});
