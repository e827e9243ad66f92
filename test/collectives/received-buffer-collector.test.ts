import assert from "node:assert/strict";
import { constants, PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";
import { describe, test } from "node:test";
import { ReceivedBufferCollector } from "../../lib/collectives/received-buffer-collector.js";

/** Minor and major collections seen while `body` runs (entries arrive asynchronously: a turn is awaited). */
async function collectionsDuring(body: () => void): Promise<{ minor: number; major: number }> {
  const entries: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  observer.observe({ entryTypes: ["gc"] });
  try {
    body();
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    observer.disconnect();
  }
  const kind = (entry: PerformanceEntry): unknown => {
    const detail: unknown = (entry as { detail?: unknown }).detail;
    return typeof detail === "object" && detail !== null && "kind" in detail ? detail.kind : undefined;
  };
  return { minor: entries.filter((entry) => kind(entry) === constants.NODE_PERFORMANCE_GC_MINOR).length, major: entries.filter((entry) => kind(entry) === constants.NODE_PERFORMANCE_GC_MAJOR).length };
}

describe("ReceivedBufferCollector", () => {
  test("runs a minor collection each time a threshold of received bytes has arrived", async () => {
    const collector = new ReceivedBufferCollector(1024 * 1024);
    // 8 x 256 KiB: the 4th and the 8th call reach a MiB. (The process may collect on its own too.)
    const seen = await collectionsDuring(() => {
      for (let i = 0; i < 8; i++) collector.received(256 * 1024);
    });
    assert.ok(seen.minor >= 2, `expected at least 2 minor collections, saw ${seen.minor} (and ${seen.major} major)`);
  });

  test("does not give task code a global gc", () => {
    new ReceivedBufferCollector(1).received(1);
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, "undefined");
  });
});
