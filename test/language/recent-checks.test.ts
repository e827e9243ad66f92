/**
 * The editor's recent checks, kept for the runs of the cells they checked: found only for the
 * same text after the same committed cells, dropped when another cell commits, bounded, and
 * never kept when the check failed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RecentChecks } from "../../kernel/language/recent-checks.js";
import type { CellDiagnostic } from "../../kernel/language/protocol.js";

const typeError: CellDiagnostic = { line: 1, column: 7, endLine: 1, endColumn: 12, code: 2322, message: "Type 'number' is not assignable to type 'string'." };

test("a check is found for its text after the same committed cells, and is stale after a commit", async () => {
  const checks = new RecentChecks();
  const check = Promise.resolve([typeError]);
  checks.remember("const s: string = 5", 0, check);
  assert.equal(checks.find("const s: string = 5", 0), check);
  assert.equal(checks.find("const s: string = 6", 0), undefined, "another text");
  assert.equal(checks.find("const s: string = 5", 1), undefined, "after another number of cells");
  checks.committed(1);
  assert.equal(checks.find("const s: string = 5", 1), undefined, "a commit drops every kept check");
  checks.remember("late", 0, Promise.resolve([]));
  assert.equal(checks.find("late", 0), undefined, "a check started before the commit is not kept");
  assert.equal(checks.find("late", 1), undefined);
  assert.deepEqual(await check, [typeError]);
});

test("at most 8 texts are kept, the oldest dropped first; a text checked again counts as new", () => {
  const checks = new RecentChecks();
  for (let index = 0; index < 8; index++) checks.remember(`cell ${index}`, 0, Promise.resolve([]));
  checks.remember("cell 0", 0, Promise.resolve([]));
  checks.remember("cell 8", 0, Promise.resolve([]));
  assert.notEqual(checks.find("cell 0", 0), undefined, "checked again, so kept");
  assert.equal(checks.find("cell 1", 0), undefined, "the oldest is dropped");
  for (let index = 2; index <= 8; index++) assert.notEqual(checks.find(`cell ${index}`, 0), undefined, `cell ${index}`);
});

test("a failed check is dropped, so the cell's run checks again", async () => {
  const checks = new RecentChecks();
  const failed = Promise.reject(new Error("language worker exited"));
  checks.remember("x", 0, failed);
  await assert.rejects(failed, /language worker exited/);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(checks.find("x", 0), undefined);
});
