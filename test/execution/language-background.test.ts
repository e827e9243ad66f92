/** The language worker gives its memory back: garbage is collected when it is idle. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getHeapStatistics } from "node:v8";
import { runInNewContext } from "node:vm";
import { IdleCollector } from "../../kernel/language/idle-gc.js";

describe("language worker memory", () => {
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
