/**
 * The README's cluster-options table documents every option `launchCluster` accepts, and only
 * those: an option added without a row, or a row left for a removed option, fails here.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { launchClusterOptionNames } from "../../lib/cluster/launch-cluster.js";

test("the README's cluster-options table has a row for every launchCluster option and none for others", async () => {
  const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
  const start = readme.indexOf("### Cluster options");
  assert.ok(start >= 0, "README has a Cluster options section");
  const end = readme.indexOf("\n### ", start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const rows = [...section.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((match) => match[1]!);
  const known: readonly string[] = launchClusterOptionNames;
  assert.deepEqual(rows.filter((row) => !known.includes(row)), [], "rows for options launchCluster does not take");
  assert.deepEqual(known.filter((name) => !rows.includes(name)), [], "options without a row");
});
