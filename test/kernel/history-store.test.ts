import assert from "node:assert/strict";
import { readdirSync, readlinkSync } from "node:fs";
import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { globToRegExp, HistoryStore } from "../../kernel/server/history-store.js";
import { makeTempDir } from "./helpers.js";

/** How many of this process's file descriptors point at `file` (Linux /proc). */
function openDescriptorsOf(file: string): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  }).length;
}

describe("HistoryStore", () => {
  test("persists sessions as JSON lines; a reopened store is the next session and reads earlier ones", async () => {
    const temp = await makeTempDir("history");
    const logs: string[] = [];
    const log = (line: string) => logs.push(line);
    try {
      const file = join(temp.path, "nested", "history.jsonl");
      const first = await HistoryStore.open({ file, log });
      assert.equal(first.session, 1);
      first.recordInput(1, "a = 1").setOutput(null);
      first.recordInput(2, "a + 1").setOutput("2");
      await first.close();
      await appendFile(file, "not json\n");

      const second = await HistoryStore.open({ file, log });
      assert.equal(second.session, 2);
      assert.deepEqual(logs, [`history: skipped an unreadable line in ${file}`]);
      second.recordInput(1, "b = 2").setOutput(null);
      assert.deepEqual(second.range(-1, 1, null, true), [
        [1, 1, ["a = 1", null]],
        [1, 2, ["a + 1", "2"]],
      ]);
      assert.deepEqual(second.range(0, 1, null, false), [[2, 1, "b = 2"]]);
      assert.deepEqual(second.range(1, 2, 3, false), [[1, 2, "a + 1"]]);
      assert.deepEqual(second.tail(2, false), [
        [1, 2, "a + 1"],
        [2, 1, "b = 2"],
      ]);
      await second.close();
      // The unreadable line was dropped when the second session rewrote the file.
      const lines = (await readFile(file, "utf8")).trim().split("\n");
      assert.equal(lines.length, 3);
    } finally {
      await temp.remove();
    }
  });

  test("appends through one open file, batched over writeDelayMs (flush writes at once); records added after close() still arrive", async () => {
    const temp = await makeTempDir("history-handle");
    const logs: string[] = [];
    try {
      const file = join(temp.path, "history.jsonl");
      const store = await HistoryStore.open({ file, log: (line) => logs.push(line), writeDelayMs: 5_000 });
      store.recordInput(1, "first").setOutput("1");
      await new Promise((resolve) => setTimeout(resolve, 50));
      await assert.rejects(readFile(file, "utf8"), { code: "ENOENT" }, "nothing is written before writeDelayMs");
      await store.flush();
      assert.equal((await readFile(file, "utf8")).trim().split("\n").length, 1);
      for (let line = 2; line <= 50; line++) {
        store.recordInput(line, `cell ${line}`).setOutput(null);
        await store.flush();
      }
      assert.equal((await readFile(file, "utf8")).trim().split("\n").length, 50);
      assert.equal(openDescriptorsOf(file), 1, "one descriptor, kept open between cells");
      const late = store.recordInput(51, "late");
      await store.close();
      assert.equal(openDescriptorsOf(file), 0, "close() closes it");
      late.setOutput("after close");
      await store.flush();
      assert.equal(openDescriptorsOf(file), 0);
      const lines = (await readFile(file, "utf8")).trim().split("\n");
      assert.equal(lines.length, 51);
      assert.deepEqual(JSON.parse(lines[50] ?? ""), { session: 1, line: 51, input: "late", output: "after close" });
      assert.deepEqual(logs, []);
    } finally {
      await temp.remove();
    }
  });

  test("search matches whole inputs with globs, keeps the last n, and dedupes with unique", async () => {
    const temp = await makeTempDir("history-search");
    try {
      const store = await HistoryStore.open({ file: join(temp.path, "h.jsonl"), log: () => {} });
      ["x = 1", "x + 1", "y + 1", "x + 1", "x * 2"].forEach((input, index) => store.recordInput(index + 1, input).setOutput(null));
      assert.deepEqual(store.search("x + ?", null, false, false).map((entry) => entry[1]), [2, 4]);
      assert.deepEqual(store.search("x*", null, true, false).map((entry) => entry[2]), ["x = 1", "x + 1", "x * 2"]);
      assert.deepEqual(store.search("*", 2, false, false).map((entry) => entry[2]), ["x + 1", "x * 2"]);
      assert.deepEqual(store.search("[xy] + 1", null, true, false).map((entry) => entry[2]), ["y + 1", "x + 1"]);
      await store.close();
    } finally {
      await temp.remove();
    }
  });

  test("globToRegExp escapes regex characters and anchors the match", () => {
    assert.ok(globToRegExp("a.b(c)").test("a.b(c)"));
    assert.ok(!globToRegExp("a.b").test("axb"));
    assert.ok(!globToRegExp("ab").test("xaby"));
    assert.ok(globToRegExp("line1*").test("line1\nline2"));
  });
});
