/**
 * CURVE links between real sockets: a socket that binds with the cluster's keys admits only
 * connections that present the cluster's client key and know its server key; everything else
 * (no security, PLAIN even with the cluster's password, a fresh keypair, the wrong server key)
 * fails at the handshake and gets no message through. Z85 and the key parser are checked too.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as zmq from "zeromq";
import { ClusterSecret } from "../../lib/transport/cluster-secret.js";
import { generateCurveKeys, parseCurveKeys } from "../../lib/transport/curve-keys.js";
import { clientSocketOptions, registerLinkDomain, serverSocketOptions, type LinkSecurity } from "../../lib/transport/link-security.js";
import { encodeZ85, isZ85Key } from "../../lib/transport/z85.js";
import { SocketIntruder } from "../helpers/socket-intruder.js";

describe("Z85", () => {
  it("encodes the specification's example and zeromq's keys are Z85 text", () => {
    assert.equal(encodeZ85(new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])), "HelloWorld");
    assert.equal(encodeZ85(new Uint8Array(4)), "00000");
    assert.equal(encodeZ85(new Uint8Array([255, 255, 255, 255])), "%nSc0");
    assert.throws(() => encodeZ85(new Uint8Array(3)), /multiple of 4 bytes, got 3/);
    const { publicKey, secretKey } = zmq.curveKeyPair();
    assert.ok(isZ85Key(publicKey) && isZ85Key(secretKey));
    assert.equal(isZ85Key(`${publicKey.slice(0, 39)}"`), false);
    assert.equal(isZ85Key(publicKey.slice(1)), false);
  });
});

describe("CURVE keys", () => {
  it("are made fresh for each cluster and parsed with errors that name the field, never a key", () => {
    const keys = generateCurveKeys();
    assert.notEqual(keys.serverPublicKey, generateCurveKeys().serverPublicKey);
    assert.deepEqual(parseCurveKeys(JSON.parse(JSON.stringify(keys))), keys);
    const broken = { ...keys, clientSecretKey: `${keys.clientSecretKey.slice(0, 30)}` };
    assert.throws(() => parseCurveKeys(broken), (error: unknown) => {
      assert.ok(error instanceof Error && "code" in error && error.code === "ERR_BAD_CURVE_KEYS");
      assert.match(error.message, /CURVE key clientSecretKey must be 40 characters of Z85 text, got 30 characters/);
      for (const key of Object.values(keys)) assert.ok(!error.message.includes(key.slice(0, 30)), "no key in the message");
      return true;
    });
    assert.throws(() => parseCurveKeys("keys"), /CURVE keys must be an object .* got string/);
    assert.throws(() => parseCurveKeys({ ...keys, serverPublicKey: 5 }), /serverPublicKey must be 40 characters of Z85 text, got number/);
  });
});

describe("a CURVE link", () => {
  it("admits the cluster's client key and refuses everyone else at the handshake, with no message through", { timeout: 60_000 }, async () => {
    const keys = generateCurveKeys();
    const curve: LinkSecurity = { mechanism: "curve", keys };
    const password = ClusterSecret.generate().socketPassword;
    const refusals: string[] = [];
    const domain = `curve-link-test-${process.pid}`;
    const registration = await registerLinkDomain(curve, domain, (line) => refusals.push(line));
    const server = new zmq.Router({ linger: 0, ...serverSocketOptions(curve, domain) });
    const stranger = zmq.curveKeyPair();
    const intruders = [
      new SocketIntruder("no security", {}),
      new SocketIntruder("PLAIN with the cluster's password", clientSocketOptions({ mechanism: "plain", password })),
      new SocketIntruder("a fresh CURVE keypair", { curveServerKey: keys.serverPublicKey, curvePublicKey: stranger.publicKey, curveSecretKey: stranger.secretKey }),
      new SocketIntruder("the client keys with a wrong server key", { ...clientSocketOptions(curve), curveServerKey: stranger.publicKey }),
    ];
    const member = new SocketIntruder("member", { ...clientSocketOptions(curve), routingId: "member" });
    try {
      await server.bind("tcp://127.0.0.1:*");
      const endpoint = server.lastEndpoint!;
      const signal = AbortSignal.timeout(20_000);
      for (const intruder of intruders) await intruder.connect(endpoint, ["from an intruder", intruder.name]);
      // ZeroMQ gives up after a protocol error, and retries after an auth refusal: the first outcome counts.
      const outcomes = await Promise.all(intruders.map((intruder) => intruder.handshakes(1, signal)));
      for (const [index, intruder] of intruders.entries()) {
        assert.ok(outcomes[index]!.every((outcome) => outcome !== "handshake"), `${intruder.name}: ${intruder.events.join(", ")}`);
      }
      // Only the fresh keypair reaches ZAP; the others fail before it (no or the wrong mechanism, undecryptable hello).
      assert.ok(refusals.some((line) => line.includes(`CURVE client key ${stranger.publicKey} is not the cluster's`)), refusals.join("\n"));
      assert.equal(intruders[2]!.outcomes[0], "handshake:error:auth");

      await member.connect(endpoint, ["from the member"]);
      assert.deepEqual(await member.handshakes(1, signal), ["handshake"]);
      const [from, ...body] = await server.receive();
      assert.deepEqual([from!.toString(), ...body.map(String)], ["member", "from the member"], "the first message the server gets is the member's");
      for (const intruder of intruders) await assert.rejects(intruder.dealer.receive(), { code: "EAGAIN" }, `${intruder.name} receives nothing`);
    } finally {
      await Promise.all([...intruders, member].map((socket) => socket.close()));
      server.close();
      await registration.release();
    }
  });
});
