/**
 * What the network sees of a cluster's links: tcpdump captures every frame crossing the bed's
 * switch (in the switch's own namespace, on all its ports) while two hosts all-reduce a buffer of
 * a distinctive float32 pattern. With CURVE (the default on tcp) the capture holds none of the
 * pattern's bytes; with `linkEncryption: "none"` it does, which shows the test can fail. Either
 * way the cluster secret and the CURVE keys never cross it in clear: srun forwards the workers'
 * stdin, and so their bootstrap, unencrypted, so the launcher seals it with munge (this test
 * found them there before it did).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { isJsonObject } from "../../lib/json-guards.js";
import { capturePattern } from "../helpers/multihost/capture-pattern.js";
import { bedSkipReason } from "../helpers/multihost/bed-prerequisites.js";
import { TestBed } from "../helpers/multihost/test-bed.js";

function captureSkipReason(): string | undefined {
  const bed = bedSkipReason();
  if (bed !== undefined) return bed;
  const probe = spawnSync("tcpdump", ["--version"], { encoding: "utf8" });
  return probe.error === undefined && probe.status === 0 ? undefined : "the link capture needs tcpdump (Debian: apt-get install tcpdump)";
}

const skip = captureSkipReason();
if (skip !== undefined) console.log(`# link capture tests skipped: ${skip}`);

const driver = fileURLToPath(new URL("../helpers/multihost/link-capture-driver.js", import.meta.url));
/** 256 KiB per rank: every frame of it crosses the switch, in clear or not. */
const floats = 65_536;

/** tcpdump on every port of the bed's switch, writing packets as they come (-U) to `file`. */
class SwitchCapture {
  readonly #process: ChildProcess;
  readonly #exited: Promise<number | null>;
  #stderr = "";

  private constructor(child: ChildProcess) {
    this.#process = child;
    this.#exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    child.stderr?.on("data", (chunk: Buffer) => (this.#stderr += chunk.toString()));
  }

  /** Starts tcpdump and resolves once it says it is listening. */
  static async start(bed: TestBed, file: string): Promise<SwitchCapture> {
    const child = spawn("nsenter", [`--net=/run/netns/${bed.switchNamespace}`, "tcpdump", "-i", "any", "-U", "-s", "0", "-w", file, "tcp"], { stdio: ["ignore", "ignore", "pipe"] });
    const capture = new SwitchCapture(child);
    const listening = new Promise<void>((resolve, reject) => {
      const onData = (): void => {
        if (!/listening on/.test(capture.#stderr)) return;
        child.stderr?.off("data", onData);
        resolve();
      };
      child.stderr?.on("data", onData);
      void capture.#exited.then((code) => reject(new Error(`tcpdump exited with ${code} before listening: ${capture.#stderr}`)));
    });
    try {
      await listening;
    } catch (error) {
      await capture.stop();
      throw error;
    }
    return capture;
  }

  /** Stops tcpdump (SIGINT: it flushes and closes the file) and waits for it. Idempotent. */
  async stop(): Promise<string> {
    if (this.#process.exitCode === null && this.#process.signalCode === null) this.#process.kill("SIGINT");
    await this.#exited;
    return this.#stderr;
  }
}

/** The driver's report: the links and whether each rank's sums were right. */
function parseDriverLine(line: string): { links: string[]; correct: boolean[] } {
  const value: unknown = JSON.parse(line);
  assert.ok(isJsonObject(value), line);
  const { links, correct } = value;
  assert.ok(Array.isArray(links) && Array.isArray(correct), line);
  return { links: links.map(String), correct: correct.map((ok: unknown) => ok === true) };
}

/** The secrets rank 0's worker was started with (by name), as the driver had it write them on its host. */
function parseSecrets(text: string): Record<string, string> {
  const value: unknown = JSON.parse(text);
  assert.ok(isJsonObject(value), text);
  const { secretHex, curveKeys } = value;
  const keys = isJsonObject(curveKeys) ? Object.entries(curveKeys).filter((entry): entry is [string, string] => typeof entry[1] === "string") : [];
  return Object.fromEntries([...(typeof secretHex === "string" ? [["secretHex", secretHex]] : []), ...keys]);
}

describe("links on the wire between hosts", { skip }, () => {
  let bed: TestBed;
  before(async () => {
    bed = await TestBed.start({ hosts: 2 });
  });
  after(async () => {
    await bed?.close();
  });

  // Eight floats of the pattern in a row: TCP segments cut the stream, but a 256 KiB buffer in
  // clear leaves many whole runs inside single frames.
  const needle = Buffer.from(new Float32Array([...capturePattern, ...capturePattern]).buffer);

  for (const { linkEncryption, link, expectPattern } of [
    { linkEncryption: "curve", link: "tcp+curve", expectPattern: false },
    { linkEncryption: "none", link: "tcp (unencrypted)", expectPattern: true },
  ] as const) {
    it(`with linkEncryption "${linkEncryption}" a capture of the switch ${expectPattern ? "contains" : "holds none of"} the gradient's bytes, and never the cluster's secret or keys`, { timeout: 180_000 }, async (t) => {
      const file = join(bed.stateDir, `capture-${linkEncryption}.pcap`);
      const secretsFile = join(bed.stateDir, `secrets-${linkEncryption}.json`);
      const capture = await SwitchCapture.start(bed, file);
      let result;
      try {
        const args = [driver, JSON.stringify({ nodes: 2, ownerAddress: bed.head.address, recordDir: join(bed.stateDir, "allocation-records"), linkEncryption, floats, secretsFile })];
        result = await bed.run(bed.head, process.execPath, args, { env: bed.slurmEnv(), timeoutMs: 120_000 });
      } finally {
        t.diagnostic(`tcpdump: ${(await capture.stop()).trim().split("\n").at(-2) ?? ""}`);
      }
      assert.equal(result.code, 0, `driver failed:\n${result.stdout}\n${result.stderr}`);
      const report = parseDriverLine(result.stdout.trim());
      assert.deepEqual(report, { links: [link, link], correct: [true, true] });
      const secrets = parseSecrets(await readFile(secretsFile, "utf8"));
      assert.equal(Object.keys(secrets).length, linkEncryption === "curve" ? 5 : 1, "the secret, and the four keys with CURVE");
      const captured = await readFile(file);
      t.diagnostic(`capture: ${captured.length} bytes; pattern found: ${captured.indexOf(needle) >= 0}`);
      // Each rank's 256 KiB crossed the switch (twice: in at one port, out at another), so an
      // empty capture cannot pass for an encrypted one.
      assert.ok(captured.length > 2 * floats * 4, `the capture holds only ${captured.length} bytes`);
      assert.equal(captured.indexOf(needle) >= 0, expectPattern);
      const secretsFound = Object.entries(secrets).filter(([, text]) => captured.indexOf(Buffer.from(text)) >= 0).map(([name]) => name);
      assert.deepEqual(secretsFound, [], "the secret and keys the workers were started with are not in the capture");
    });
  }
});
