/**
 * After copyReceivedFrames(), zeromq.js hands over received frames as copies in memory V8
 * allocates (counted in `process.memoryUsage().arrayBuffers`), not as Buffers over ZeroMQ's own
 * memory, and `process.versions` has no `electron` left. Each case runs in a fresh process: the
 * choice is zeromq.js's, made once per process. Without the call the same frames stay ZeroMQ's,
 * which also shows that the measure tells the two apart (and would fail the test if a zeromq.js
 * update dropped the copy path).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const moduleUrl = new URL("../../lib/transport/copied-receives.js", import.meta.url).href;
const zeromqPath = fileURLToPath(import.meta.resolve("zeromq"));

/** Receives 8 frames of 1 MiB over tcp loopback, holding them; the growth of arrayBuffers in MiB and what process.versions.electron is after. */
function receiveInFreshProcess(copy: boolean): { arrayBuffersMiB: number; electron: unknown } {
  const script = `
    import { createRequire } from "node:module";
    const zmq = createRequire(import.meta.url)(${JSON.stringify(zeromqPath)});
    const { copyReceivedFrames } = await import(${JSON.stringify(moduleUrl)});
    if (${copy}) await copyReceivedFrames();
    const pull = new zmq.Pull({ linger: 0 });
    const push = new zmq.Push({ linger: 0 });
    await pull.bind("tcp://127.0.0.1:*");
    push.connect(pull.lastEndpoint);
    const before = process.memoryUsage().arrayBuffers;
    const frame = Buffer.alloc(1 << 20, 7);
    const sending = (async () => { for (let i = 0; i < 8; i++) await push.send(frame); })();
    const held = [];
    for (let i = 0; i < 8; i++) held.push((await pull.receive())[0]);
    await sending;
    if (!held.every((received) => received.length === 1 << 20 && received[12345] === 7)) throw new Error("a frame arrived changed");
    const grown = (process.memoryUsage().arrayBuffers - before) / 2 ** 20;
    pull.close();
    push.close();
    console.log(JSON.stringify({ arrayBuffersMiB: grown, electron: process.versions.electron ?? null }));
  `;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  const parsed: unknown = JSON.parse(result.stdout.trim());
  assert.ok(typeof parsed === "object" && parsed !== null && "arrayBuffersMiB" in parsed && typeof parsed.arrayBuffersMiB === "number" && "electron" in parsed, result.stdout);
  return { arrayBuffersMiB: parsed.arrayBuffersMiB, electron: parsed.electron };
}

test("after copyReceivedFrames() received frames are copies in V8's memory; process.versions is as before", () => {
  const copied = receiveInFreshProcess(true);
  assert.ok(copied.arrayBuffersMiB >= 8, `8 MiB received, arrayBuffers grew by ${copied.arrayBuffersMiB.toFixed(1)} MiB`);
  assert.equal(copied.electron, null);
});

test("without it the frames stay ZeroMQ's buffers (the measure above tells them apart)", () => {
  const wrapped = receiveInFreshProcess(false);
  assert.ok(wrapped.arrayBuffersMiB < 4, `arrayBuffers grew by ${wrapped.arrayBuffersMiB.toFixed(1)} MiB`);
  assert.equal(wrapped.electron, null);
});
