/**
 * A worker's code as bundled by `npm run build` (scripts/bundle-entries.mjs): the main thread as
 * one file, the execution thread and the package's entry as one build with shared chunks.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launchCluster } from "../../lib/index.js";
import { checkedBundleImports } from "../helpers/entry-bundles.js";

const clusterDir = fileURLToPath(new URL("../../lib/cluster/", import.meta.url));
const bundlePath = join(clusterDir, "worker-process.bundle.js");
const threadBundlePath = join(clusterDir, "worker-runtime.bundle.js");

describe("worker bundle", () => {
  test("imports nothing but ZeroMQ and Node's builtins, and no module at run time", async () => {
    const specifiers = await checkedBundleImports(bundlePath);
    assert.ok(specifiers.includes("zeromq"), specifiers.join(", "));
  });

  test("the execution thread's bundle: every file and package it imports is where it says", async () => {
    const files = (await readdir(clusterDir)).filter((file) => /\.bundle(-chunk)?\.js$/.test(file) && file !== "worker-process.bundle.js");
    assert.ok(files.includes("worker-runtime.bundle.js") && files.includes("ringbook-index.bundle.js"), files.join(", "));
    const resolve = createRequire(threadBundlePath).resolve;
    let relative = 0;
    for (const file of files) {
      const text = await readFile(join(clusterDir, file), "utf8");
      const specifiers = [...text.matchAll(/(?:^import (?:.* from )?|\bimport\()'([^']+)'/gm)].map((match) => match[1] ?? "");
      for (const specifier of specifiers) {
        if (specifier.startsWith("node:")) continue;
        if (specifier.startsWith(".")) {
          relative++;
          assert.ok(existsSync(join(clusterDir, specifier)), `${file} imports ${specifier}, which is not there`);
        } else {
          assert.doesNotThrow(() => resolve(specifier), `${file} imports ${specifier}`);
        }
      }
      // Modules keep their own file's URL; only the entry's location for tasks' "ringbook" is the bundle's.
      const urls = [...text.matchAll(/import\.meta\.url/g)].length;
      assert.equal(urls, file === "worker-runtime.bundle.js" ? 1 : 0, `import.meta.url in ${file}`);
    }
    assert.ok(relative >= 4, `only ${relative} relative imports found: is the pattern still right?`);
  });

  test("workers start from the bundles, and tasks importing ringbook get the execution thread's own modules", async () => {
    const cluster = await launchCluster({ workers: 1 });
    try {
      const [pid] = await cluster.run(() => process.pid);
      assert.ok(pid !== undefined);
      const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
      assert.ok(argv.includes(bundlePath), argv.join(" "));
      const [stack] = await cluster.run(() => new Error("where").stack ?? "");
      assert.ok(stack?.includes(threadBundlePath), stack);
      // The error collectives throw is the RingbookError a task imports (one module, not two copies).
      const [fromTask] = await cluster.run(async ({ collectives }) => {
        const { RingbookError } = await import("ringbook");
        return collectives.broadcast(new Float32Array(2), 7).then(
          () => "resolved",
          (error: unknown) => (error instanceof RingbookError ? error.code : `another class: ${String(error)}`),
        );
      });
      assert.equal(fromTask, "ERR_BAD_RANK");
      const [fromCell] = await cluster.runCell('import { RingbookError } from "ringbook";\nawait collectives.broadcast(new Float32Array(2), 7).then(() => "resolved", (error) => error instanceof RingbookError ? error.code : "another class")');
      assert.equal(fromCell, "ERR_BAD_RANK");
    } finally {
      await cluster.close();
    }
  });
});
