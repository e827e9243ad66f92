import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StartingExecutor } from "../../kernel/server/starting-executor.js";
import { VmExecutor } from "./fixtures/vm-executor.js";

const request = { cellId: "c1", code: "6 * 7", silent: false, storeHistory: true, userExpressions: {}, allowStdin: false, executionCount: 1 };

describe("StartingExecutor", () => {
  test("calls made before begin() wait for the start, then reach the executor; events reach the listener set early", async () => {
    let starts = 0;
    const executor = new StartingExecutor(async () => {
      starts++;
      return new VmExecutor();
    });
    const events: string[] = [];
    executor.onEvent((cellId, event) => events.push(`${cellId}:${event.kind}`));
    const outcome = executor.execute({ ...request, code: "print('early'); 6 * 7" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(starts, 0, "nothing starts before begin()");
    executor.begin();
    executor.begin();
    assert.equal((await outcome).status, "ok");
    await executor.started;
    assert.equal(starts, 1);
    assert.deepEqual(events, ["c1:stream"]);
    await executor.close();
  });

  test("close() before begin() never starts the executor, and pending calls fail with a clear error", async () => {
    let starts = 0;
    const executor = new StartingExecutor(async () => {
      starts++;
      return new VmExecutor();
    });
    const pending = executor.execute(request);
    await executor.close();
    await assert.rejects(pending, /the kernel closed before its executor started/);
    await assert.rejects(executor.started, /the kernel closed before its executor started/);
    assert.equal(starts, 0);
  });

  test("a failed start fails every call with the start's error", async () => {
    const executor = new StartingExecutor(() => Promise.reject(new Error("no worker today")));
    executor.begin();
    await assert.rejects(executor.execute(request), /no worker today/);
    await assert.rejects(executor.complete("x", 1), /no worker today/);
    await assert.rejects(executor.started, /no worker today/);
    await executor.interrupt();
    await executor.close();
  });
});
