/** The language worker's manners as background work: low thread priority, garbage collected when idle. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { getHeapStatistics } from "node:v8";
import { runInNewContext } from "node:vm";
import { Worker } from "node:worker_threads";
import { IdleCollector } from "../../kernel/language/idle-gc.js";

/** Field 19 of /proc/<pid>/task/<tid>/stat: the thread's nice value. */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

describe("language worker as background work", () => {
  it("lowers the priority of its own thread only (Linux)", async () => {
    const mainNice = niceOf(process.pid);
    const module = new URL("../../kernel/language/thread-priority.js", import.meta.url).href;
    const worker = new Worker(
      `import(${JSON.stringify(module)}).then(({ lowerThisThreadPriority }) => {
         const lowered = lowerThisThreadPriority();
         const tid = Number(require("node:fs").readlinkSync("/proc/thread-self").split("/").pop());
         require("node:worker_threads").parentPort.postMessage({ lowered, tid });
       });`,
      { eval: true },
    );
    try {
      const { lowered, tid } = await new Promise<{ lowered: boolean; tid: number }>((resolve) => worker.once("message", resolve));
      assert.equal(lowered, true);
      assert.equal(niceOf(tid), 19);
      assert.equal(niceOf(process.pid), mainNice, "the main thread keeps its priority");
    } finally {
      await worker.terminate();
    }
  });

  it("collects garbage after an idle time without exposing gc to any context", async () => {
    const collector = new IdleCollector(30);
    assert.equal(runInNewContext("typeof gc"), "undefined");
    assert.equal(typeof (globalThis as Record<string, unknown>)["gc"], "undefined");
    collector.collectNow();
    const live = getHeapStatistics().used_heap_size;
    let garbage: Array<{ index: number; text: string }> | undefined = Array.from({ length: 300_000 }, (_, index) => ({ index, text: `item ${index}` }));
    assert.equal(garbage.length, 300_000);
    garbage = undefined;
    const withGarbage = getHeapStatistics().used_heap_size;
    assert.ok(withGarbage > live + 10 * 1024 * 1024, `expected >10 MiB of garbage, heap went from ${live} to ${withGarbage}`);
    collector.touch();
    // Polled: on a busy machine the idle timer may fire late.
    const deadline = Date.now() + 10_000;
    let after = getHeapStatistics().used_heap_size;
    while (after >= live + 5 * 1024 * 1024 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = getHeapStatistics().used_heap_size;
    }
    assert.ok(after < live + 5 * 1024 * 1024, `heap in use ${after} after the idle collection, ${live} before the garbage`);
  });
});
