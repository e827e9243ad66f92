/**
 * An interrupted task's reported end waits for the directory replacement its abandoned code left
 * under way: whoever sees the task end (a run that failed because a peer died) may read the
 * checkpoint at once, and must find it whole.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { replaceDirectory, replacementsSettled } from "../../lib/io/atomic-directory.js";
import { TaskRunner, type TaskOutcome } from "../../lib/cluster/task-runner.js";

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = (): void => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Runs one task on `runner`; resolves with the outcome it reports. */
function runTask(runner: TaskRunner, taskId: string, start: () => Promise<unknown>): Promise<TaskOutcome> {
  return new Promise((resolve) => runner.enqueue({ taskId, start, finish: resolve }));
}

const owns = (entries: readonly string[]): boolean => entries.every((name) => name === "state.json");

describe("task runner", () => {
  it("reports an interrupted task only after the directory it was replacing is in place", async () => {
    const parent = await mkdtemp(join(tmpdir(), "ringbook-runner-"));
    const dir = join(parent, "checkpoint");
    try {
      await replaceDirectory(dir, (temporary) => writeFile(join(temporary, "state.json"), '{"step":1}'), { owns, what: "a test checkpoint" });
      const runner = new TaskRunner(setImmediate, () => {}, { settled: replacementsSettled });
      const writing = gate();
      const release = gate();
      let reported = false;
      const outcome = runTask(runner, "t1", () =>
        replaceDirectory(
          dir,
          async (temporary) => {
            writing.open();
            await release.opened;
            await writeFile(join(temporary, "state.json"), '{"step":2}');
          },
          { owns, what: "a test checkpoint" },
        ),
      ).then((value) => {
        reported = true;
        return value;
      });
      await writing.opened;
      runner.interrupt("t1");
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(reported, false, "the outcome waits for the replacement under way");
      release.open();
      assert.deepEqual(await outcome, { status: "interrupted" });
      assert.equal(await readFile(join(dir, "state.json"), "utf8"), '{"step":2}', "the new directory is in place when the end is reported");
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it("reports an interrupted task after at most maxWaitMs when its abandoned work never ends", async () => {
    const never = new Promise<void>(() => {});
    const runner = new TaskRunner(setImmediate, () => {}, { settled: () => never, maxWaitMs: 50 });
    const outcome = runTask(runner, "t2", () => never);
    await new Promise((resolve) => setImmediate(resolve));
    runner.interrupt("t2");
    assert.deepEqual(await outcome, { status: "interrupted" });
    // The queue goes on with the next task.
    assert.deepEqual(await runTask(runner, "t3", async () => 7), { status: "ok", value: 7 });
  });

  it("does not wait for anything when a task ends by itself", async () => {
    let asked = 0;
    const runner = new TaskRunner(setImmediate, () => {}, {
      settled: async () => {
        asked++;
      },
    });
    assert.deepEqual(await runTask(runner, "t4", async () => "done"), { status: "ok", value: "done" });
    assert.equal(asked, 0);
  });
});
