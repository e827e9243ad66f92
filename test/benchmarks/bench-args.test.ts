/**
 * A benchmark's command line as its user meets it: `--help` prints the usage and exits 0; an
 * unknown option or a missing value stops it with the reason and the usage (exit 2), no stack.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const firstLaunch = fileURLToPath(new URL("../../bench/first-launch.js", import.meta.url));

function runBench(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [firstLaunch, ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("--help prints the bench's usage and exits 0", () => {
  for (const flag of ["--help", "-h"]) {
    const { status, stdout, stderr } = runBench("--workers", "3", flag);
    assert.equal(status, 0, stderr);
    assert.equal(stdout, "Usage: node dist/bench/first-launch.js [--workers 2]\n");
    assert.equal(stderr, "");
  }
});

test("an unknown option or a missing value is refused with the reason and the usage, exit 2", () => {
  const unknown = runBench("--wrokers", "3");
  assert.equal(unknown.status, 2);
  assert.equal(unknown.stdout, "");
  assert.match(unknown.stderr, /^Unknown option '--wrokers'/);
  assert.match(unknown.stderr, /\n\nUsage: node dist\/bench\/first-launch\.js \[--workers 2\]\n$/);
  assert.doesNotMatch(unknown.stderr, /\n\s+at /, "no stack trace");
  const missing = runBench("--workers");
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^Option '--workers <value>' argument missing/);
});
