/**
 * The process's one ZAP handler serves every cluster and mesh of a thread; a refused connection is
 * told to the log of the one whose domain it tried, not to whichever registered first.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import * as zmq from "zeromq";
import { ZapAuthenticator, zapClientOptions, zapServerOptions } from "../../lib/transport/zap-authenticator.js";

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 10_000) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

test("a refused connection is logged by the registration of the domain it tried, not by the first one", async () => {
  const logs: Record<"first" | "second", string[]> = { first: [], second: [] };
  const domains = { first: "zap-logs-first", second: "zap-logs-second" };
  const registrations = [
    await ZapAuthenticator.register(domains.first, { mechanism: "PLAIN", password: "first password" }, (line) => logs.first.push(line)),
    await ZapAuthenticator.register(domains.second, { mechanism: "PLAIN", password: "second password" }, (line) => logs.second.push(line)),
  ];
  const servers = [new zmq.Router({ linger: 0, ...zapServerOptions(domains.first) }), new zmq.Router({ linger: 0, ...zapServerOptions(domains.second) })];
  const clients: zmq.Dealer[] = [];
  try {
    for (const server of servers) await server.bind("tcp://127.0.0.1:*");
    // A wrong password at the second server only.
    const intruder = new zmq.Dealer({ linger: 0, ...zapClientOptions("not the password") });
    clients.push(intruder);
    intruder.connect(servers[1]!.lastEndpoint!);
    await until(() => logs.second.length > 0, "the second registration's log");
    assert.match(logs.second[0]!, /refused a connection to "zap-logs-second" from 127\.0\.0\.1: wrong password/);
    // The right password at the first server gets in and is logged nowhere.
    const member = new zmq.Dealer({ linger: 0, ...zapClientOptions("first password") });
    clients.push(member);
    member.connect(servers[0]!.lastEndpoint!);
    await member.send("hello");
    const [, text] = await servers[0]!.receive();
    assert.equal(text?.toString(), "hello");
    assert.deepEqual(logs.first, [], "the first registration heard nothing of the second domain's refusals");
  } finally {
    for (const socket of [...clients, ...servers]) socket.close();
    for (const registration of registrations) await registration.release();
  }
});
