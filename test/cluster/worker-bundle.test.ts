/** The worker process's main thread as one file (scripts/bundle-entries.mjs, run by `npm run build`), which workers start from. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launchCluster } from "../../lib/index.js";
import { checkedBundleImports } from "../helpers/entry-bundles.js";

const bundlePath = fileURLToPath(new URL("../../lib/cluster/worker-process.bundle.js", import.meta.url));

describe("worker bundle", () => {
  test("imports nothing but ZeroMQ and Node's builtins, and no module at run time", async () => {
    const specifiers = await checkedBundleImports(bundlePath);
    assert.ok(specifiers.includes("zeromq"), specifiers.join(", "));
  });

  test("workers start from it and run tasks", async () => {
    const cluster = await launchCluster({ workers: 1 });
    try {
      const [pid] = await cluster.run(() => process.pid);
      assert.ok(pid !== undefined);
      const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
      assert.ok(argv.includes(bundlePath), argv.join(" "));
    } finally {
      await cluster.close();
    }
  });
});
