/**
 * Round trip of `1+1` through the kernel server (fixture node:vm executor), measured from a raw
 * zeromq client: execute_request sent → execute_reply and idle received. For scale, the same run
 * measures a bare DEALER/ROUTER echo of a message of the same size, so the difference is the
 * server's own overhead (parse, verify, dispatch, sign, five messages out).
 *
 * Usage: node dist/bench/kernel-server-roundtrip.js [cells=2000]
 */
import { createHmac, randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as zmq from "zeromq";

const cells = Number(process.argv[2] ?? 2000);
const key = randomUUID();
const root = fileURLToPath(new URL("../", import.meta.url));
const fixture = join(root, "test", "kernel", "fixtures", "fixture-kernel.js");

function frames(msgType: string, content: unknown): { msgId: string; frames: Buffer[] } {
  const msgId = randomUUID();
  const header = { msg_id: msgId, session: "bench", username: "bench", date: new Date().toISOString(), msg_type: msgType, version: "5.3" };
  const parts = [header, {}, {}, content].map((part) => Buffer.from(JSON.stringify(part)));
  const hmac = createHmac("sha256", key);
  for (const part of parts) hmac.update(part);
  return { msgId, frames: [Buffer.from("<IDS|MSG>"), Buffer.from(hmac.digest("hex")), ...parts] };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

async function echoBaseline(size: number): Promise<number[]> {
  const server = new zmq.Router({ linger: 0 });
  const client = new zmq.Dealer({ linger: 0 });
  await server.bind("tcp://127.0.0.1:*");
  client.connect(server.lastEndpoint ?? "");
  const loop = (async () => {
    for await (const message of server) await server.send(message);
  })();
  const payload = Buffer.alloc(size, 97);
  const times: number[] = [];
  for (let index = 0; index < cells; index += 1) {
    const started = performance.now();
    await client.send(payload);
    await client.receive();
    times.push(performance.now() - started);
  }
  client.close();
  server.close();
  await loop;
  return times.sort((a, b) => a - b);
}

const dir = await mkdtemp(join(tmpdir(), "ringbook-bench-"));
const ports = { shell: 0, control: 0, stdin: 0, iopub: 0, hb: 0 };
// Let the OS pick ports by binding throwaway sockets first.
for (const name of Object.keys(ports) as Array<keyof typeof ports>) {
  const probe = new zmq.Pair({ linger: 0 });
  await probe.bind("tcp://127.0.0.1:*");
  ports[name] = Number(/:(\d+)$/.exec(probe.lastEndpoint ?? "")?.[1]);
  probe.close();
}
const file = join(dir, "connection.json");
await writeFile(file, JSON.stringify({ transport: "tcp", ip: "127.0.0.1", key, signature_scheme: "hmac-sha256", ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [`${k}_port`, v])) }));
const kernel = spawn(process.execPath, [fixture, "-f", file], { stdio: "inherit", env: { ...process.env, RINGBOOK_HISTORY_FILE: join(dir, "history.jsonl") } });
const shell = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
const iopub = new zmq.Subscriber({ linger: 0, receiveTimeout: 10_000 });
try {
  shell.connect(`tcp://127.0.0.1:${ports.shell}`);
  iopub.connect(`tcp://127.0.0.1:${ports.iopub}`);
  iopub.subscribe();
  let requestSize = 0;
  const roundTrip = async (): Promise<number> => {
    const { msgId, frames: request } = frames("execute_request", { code: "1+1" });
    requestSize = request.reduce((sum, frame) => sum + frame.length, 0);
    const started = performance.now();
    await shell.send(request);
    await shell.receive();
    for (;;) {
      const message = await iopub.receive();
      const parent = JSON.parse((message[4] as Buffer).toString()) as { msg_id?: string };
      const content = (message[6] as Buffer).toString();
      if (parent.msg_id === msgId && content.includes('"idle"')) break;
    }
    return performance.now() - started;
  };
  // Ask kernel_info until its idle status comes through iopub: a SUB socket misses what was
  // published before it joined, and it may join after the kernel's first replies.
  iopub.receiveTimeout = 250;
  for (let joined = false; !joined; ) {
    const { msgId, frames: request } = frames("kernel_info_request", {});
    await shell.send(request);
    await shell.receive();
    const deadline = performance.now() + 250;
    while (!joined && performance.now() < deadline) {
      const message = await iopub.receive().catch(() => undefined);
      if (message === undefined) break;
      const parent = JSON.parse((message[4] as Buffer).toString()) as { msg_id?: string };
      joined = parent.msg_id === msgId && (message[6] as Buffer).toString().includes('"idle"');
    }
  }
  iopub.receiveTimeout = 10_000;
  for (let index = 0; index < 100; index += 1) await roundTrip();
  const times: number[] = [];
  for (let index = 0; index < cells; index += 1) times.push(await roundTrip());
  times.sort((a, b) => a - b);
  const echo = await echoBaseline(requestSize);
  const fmt = (values: number[]) => `p50 ${percentile(values, 0.5).toFixed(3)} ms, p99 ${percentile(values, 0.99).toFixed(3)} ms`;
  console.log(`kernel 1+1 (reply + idle), ${cells} cells: ${fmt(times)}`);
  console.log(`bare DEALER/ROUTER echo of ${requestSize} bytes:    ${fmt(echo)}`);
  console.log(`server overhead (p50 difference): ${(percentile(times, 0.5) - percentile(echo, 0.5)).toFixed(3)} ms`);
} finally {
  shell.close();
  iopub.close();
  kernel.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
}
