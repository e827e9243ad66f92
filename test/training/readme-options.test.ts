/**
 * The README's train-options table documents every option `cluster.train` accepts, and only those
 * (a row `optimizer.learningRate` details an option): an option added without a row, or a row left
 * for a removed option, fails here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { trainOptionNames } from "../../lib/training/train-spec.js";

test("the README's train-options table has a row for every train option and none for others", async () => {
  const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
  const start = readme.indexOf("### Train options");
  assert.ok(start >= 0, "README has a Train options section");
  const end = readme.indexOf("\n### ", start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const rows = [...section.matchAll(/^\| `([A-Za-z.]+)` \|/gm)].map((match) => match[1]!);
  const options = new Set(rows.filter((row) => !row.includes(".")));
  const known: readonly string[] = trainOptionNames;
  assert.deepEqual([...known].filter((name) => !options.has(name)), [], "options without a row");
  assert.deepEqual([...options].filter((name) => !known.includes(name)), [], "rows for options train does not take");
  for (const row of rows.filter((r) => r.includes("."))) assert.ok(known.includes(row.split(".")[0]!), `row ${row} details a train option`);
});
