/** The server bundle `ringbook kernel` loads at start-up (scripts/bundle-entries.mjs, run by `npm run build`). */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { repoRoot } from "./helpers.js";

const bundlePath = join(repoRoot, "dist", "kernel", "server", "kernel-process.bundle.js");

describe("server bundle", () => {
  test("exports what kernel-process.js exports and imports nothing but ZeroMQ and Node's builtins", async () => {
    const [bundled, modular] = await Promise.all([import(bundlePath), import("../../kernel/server/kernel-process.js")]);
    assert.deepEqual(Object.keys(bundled).sort(), Object.keys(modular).sort());
    assert.equal(typeof bundled.runKernelProcess, "function");
    const text = await readFile(bundlePath, "utf8");
    const specifiers = [...text.matchAll(/^import .* from '([^']+)';$/gm)].map((match) => match[1]);
    assert.ok(specifiers.length > 0);
    for (const specifier of specifiers) assert.ok(specifier === "zeromq" || specifier?.startsWith("node:"), `unexpected import ${specifier}`);
    assert.doesNotMatch(text, /\bimport\(/, "no dynamic imports left to resolve relative to the bundle");
  });
});
