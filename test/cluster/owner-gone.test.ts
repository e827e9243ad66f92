/**
 * A cluster's socket directory never outlives its owner: a Node script that owns a cluster and is
 * stopped with SIGINT or SIGTERM removes it (and still dies of the signal); one killed with SIGKILL
 * cannot, and the next launch on the machine removes it, and only directories of the user's own
 * owners that are gone. Every child here gets a TMPDIR of its own, so the directories are
 * countable.
 */
import assert from "node:assert/strict";
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { identityOf, isRunning, type ProcessIdentity } from "../../lib/process/process-tree.js";
import { removeAbandoned } from "../../lib/transport/private-dir.js";
import { killIfAlive, spawnChild, type Child } from "../kernel/helpers.js";

const ownerScript = fileURLToPath(new URL("./fixtures/owner-process.js", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "ringbook-owner-gone-"));

function socketDirs(base: string): string[] {
  return readdirSync(base).filter((name) => name.startsWith("rb-"));
}

/** Starts an owner of a 1-worker cluster in `base` and waits for its workers. */
async function startOwner(base: string): Promise<{ owner: Child; workers: ProcessIdentity[] }> {
  const owner = spawnChild(process.execPath, [ownerScript, "1"], { TMPDIR: base, XDG_RUNTIME_DIR: "" });
  const deadline = Date.now() + 30_000;
  while (!/WORKERS [\d ]+\n/.test(owner.stdout())) {
    if (Date.now() > deadline) throw new Error(`the owner did not launch its cluster: ${owner.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const pids = /WORKERS ([\d ]+)\n/.exec(owner.stdout())?.[1]?.trim().split(" ").map(Number) ?? [];
  const workers = pids.map(identityOf).filter((identity): identity is ProcessIdentity => identity !== undefined);
  return { owner, workers };
}

async function waitUntilGone(processes: ProcessIdentity[], timeoutMs: number): Promise<ProcessIdentity[]> {
  const deadline = Date.now() + timeoutMs;
  while (processes.some(isRunning) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return processes.filter(isRunning);
}

describe("socket directories of owners that go away", () => {
  after(() => rmSync(scratch, { recursive: true, force: true }));

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    test(`an owner stopped with ${signal} removes its directory, dies of the signal, and its workers exit`, async () => {
      const base = mkdtempSync(join(scratch, "signal-"));
      const { owner, workers } = await startOwner(base);
      try {
        assert.equal(socketDirs(base).length, 1, "the cluster's directory exists while it runs");
        owner.process.kill(signal);
        assert.equal(await owner.exited, signal);
        assert.deepEqual(socketDirs(base), []);
        assert.deepEqual(await waitUntilGone(workers, 10_000), [], "no worker outlives its owner");
      } finally {
        owner.kill();
        for (const worker of workers) if (isRunning(worker)) killIfAlive(worker.pid);
      }
    });
  }

  test("the directory of an owner killed with SIGKILL is removed by the next launch; a live owner's and another user's are kept", async () => {
    const base = mkdtempSync(join(scratch, "sigkill-"));
    const { owner, workers } = await startOwner(base);
    const [abandoned] = socketDirs(base);
    assert.ok(abandoned !== undefined);
    owner.process.kill("SIGKILL");
    await owner.exited;
    await waitUntilGone(workers, 10_000);
    assert.deepEqual(socketDirs(base), [abandoned], "SIGKILL leaves it");
    // A live owner's (this process), and, where the test can make one, another user's whose owner is gone.
    const ownLive = join(base, "rb-live");
    mkdirSync(ownLive, { mode: 0o700 });
    writeFileSync(join(ownLive, "owner"), `${process.pid} ${identityOf(process.pid)?.startTicks}\n`);
    const root = process.getuid?.() === 0;
    if (root) {
      const foreign = join(base, "rb-foreign");
      mkdirSync(foreign, { mode: 0o700 });
      writeFileSync(join(foreign, "owner"), "999999 1\n");
      chownSync(foreign, 65534, 65534);
    }
    assert.deepEqual(removeAbandoned(base), [join(base, abandoned)]);
    assert.deepEqual(socketDirs(base).sort(), root ? ["rb-foreign", "rb-live"] : ["rb-live"]);
  });
});
