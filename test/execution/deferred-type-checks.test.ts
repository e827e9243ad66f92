import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeferredTypeChecks, type PendingCheck } from "../../kernel/execution/deferred-type-checks.js";

const pending = (executionCount: number): PendingCheck => ({ cellId: `c${executionCount}`, code: `cell ${executionCount}`, executionCount, contextCells: executionCount - 1 });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** A queue whose checks are recorded; each check waits until the test releases it (or not, if `autoRelease`). */
function recordingQueue(idleDelayMs: number, options: { autoRelease?: boolean; maxPending?: number } = {}) {
  const started: number[] = [];
  const checked: number[] = [];
  const logs: string[] = [];
  const releases: Array<() => void> = [];
  const queue = new DeferredTypeChecks({
    idleDelayMs,
    maxPending: options.maxPending ?? 100,
    check: async (check) => {
      started.push(check.executionCount);
      if (options.autoRelease === false) await new Promise<void>((resolve) => releases.push(resolve));
      if (check.executionCount === 13) throw new Error("unlucky");
      checked.push(check.executionCount);
    },
    log: (line) => logs.push(line),
  });
  const releaseAll = () => releases.splice(0).forEach((release) => release());
  return { queue, started, checked, logs, releaseAll };
}

function runCell(queue: DeferredTypeChecks, executionCount: number): void {
  queue.cellStarted(pending(executionCount));
}

describe("deferred type checks", () => {
  it("run in order, only once no cell has started for the delay", async () => {
    const { queue, checked } = recordingQueue(1000);
    for (let count = 1; count <= 5; count++) {
      runCell(queue, count);
      await sleep(10);
    }
    assert.deepEqual(checked, [], "nothing is checked while cells keep coming");
    await waitUntil(() => checked.length === 5);
    assert.deepEqual(checked, [1, 2, 3, 4, 5]);
    await queue.close();
  });

  it("pause after the check in flight when a cell starts, and resume only after the next quiet time", async () => {
    const { queue, started, checked, releaseAll } = recordingQueue(1000, { autoRelease: false });
    for (let count = 1; count <= 4; count++) runCell(queue, count);
    await waitUntil(() => started.length === 1);
    queue.cellStarted(pending(5));
    releaseAll();
    await sleep(50);
    assert.deepEqual([started, checked], [[1], [1]], "the check in flight finished; no other started");
    await waitUntil(() => started.length === 2);
    releaseAll();
    const releasing = setInterval(releaseAll, 5);
    try {
      await waitUntil(() => checked.length === 5);
    } finally {
      clearInterval(releasing);
    }
    assert.deepEqual(checked, [1, 2, 3, 4, 5]);
    await queue.close();
  });

  it("check a long cell while it still runs (there is no 'finished' signal to wait for)", async () => {
    const { queue, checked } = recordingQueue(50);
    queue.cellStarted(pending(1)); // and it keeps running
    await waitUntil(() => checked.length === 1);
    queue.cellStarted(); // a cell that is not checked (a magic) still pauses and delays checks
    runCell(queue, 3);
    await waitUntil(() => checked.length === 2);
    assert.deepEqual(checked, [1, 3]);
    await queue.close();
  });

  it("log a failed check and go on; drop the oldest beyond maxPending; close drops the rest", async () => {
    const { queue, checked, logs } = recordingQueue(20, { maxPending: 3 });
    for (const count of [11, 12, 13, 14]) runCell(queue, count);
    assert.equal(queue.pending, 3);
    await waitUntil(() => queue.pending === 0 && checked.length === 2);
    assert.deepEqual(checked, [12, 14]);
    assert.deepEqual(logs, ["type check of In[11] skipped: more than 3 checks were waiting", "type check of In[13] failed: unlucky"]);
    runCell(queue, 15);
    await queue.close();
    await sleep(60);
    assert.deepEqual(checked, [12, 14]);
    assert.equal(queue.pending, 0);
  });

  it("reject bad options with the value in the message", () => {
    assert.throws(() => new DeferredTypeChecks({ idleDelayMs: -1, maxPending: 1, check: async () => {}, log: () => {} }), /idleDelayMs must be a non-negative number, got -1/);
    assert.throws(() => new DeferredTypeChecks({ idleDelayMs: 0, maxPending: 0, check: async () => {}, log: () => {} }), /maxPending must be a positive integer, got 0/);
  });
});
