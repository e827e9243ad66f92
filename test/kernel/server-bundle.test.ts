/** The server bundle `ringbook kernel` loads at start-up (scripts/bundle-entries.mjs, run by `npm run build`). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { checkedBundleImports } from "../helpers/entry-bundles.js";
import { repoRoot } from "./helpers.js";

const bundlePath = join(repoRoot, "dist", "kernel", "server", "kernel-process.bundle.js");

describe("server bundle", () => {
  test("exports what kernel-process.js exports and imports nothing but ZeroMQ and Node's builtins", async () => {
    const [bundled, modular] = await Promise.all([import(bundlePath), import("../../kernel/server/kernel-process.js")]);
    assert.deepEqual(Object.keys(bundled).sort(), Object.keys(modular).sort());
    assert.equal(typeof bundled.runKernelProcess, "function");
    const specifiers = await checkedBundleImports(bundlePath);
    assert.ok(specifiers.length > 0);
  });
});
