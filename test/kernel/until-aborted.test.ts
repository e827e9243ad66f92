import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { untilAborted } from "../../kernel/server/execute-handler.js";

describe("untilAborted", () => {
  test("passes results and errors through, rejects every wait in progress on abort, and refuses to start after it", async () => {
    const controller = new AbortController();
    for (let index = 0; index < 1000; index++) assert.equal(await untilAborted(Promise.resolve(index), controller.signal), index);
    await assert.rejects(untilAborted(Promise.reject(new RangeError("cell failed")), controller.signal), /cell failed/);
    const never = new Promise<never>(() => {});
    const first = untilAborted(never, controller.signal);
    const second = untilAborted(never, controller.signal);
    controller.abort(new Error("kernel closed"));
    await assert.rejects(first, /kernel closed/);
    await assert.rejects(second, /kernel closed/);
    await assert.rejects(untilAborted(Promise.resolve(1), controller.signal), /kernel closed/);
  });

  test("a wait that settled before the abort is not touched by it", async () => {
    const controller = new AbortController();
    let release: (value: string) => void = () => {};
    const wait = untilAborted(new Promise<string>((resolve) => (release = resolve)), controller.signal);
    release("done");
    assert.equal(await wait, "done");
    controller.abort(new Error("later"));
    assert.equal(await wait, "done");
  });
});
