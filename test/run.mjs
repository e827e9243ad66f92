// Runs the compiled node:test files. Usage: node test/run.mjs [substring-filter...]
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("../dist/test/", import.meta.url).pathname;
/** @param {string} dir @returns {string[]} */
function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith(".test.js") ? [path] : [];
  });
}
/** The newest modification time (ms) of the compiled modules under `dir`, bundles left out. */
function newestModule(dir) {
  return Math.max(0, ...readdirSync(dir).map((name) => {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) return newestModule(path);
    return name.endsWith(".js") && !/\.bundle(-chunk)?\.js$/.test(name) ? stat.mtimeMs : 0;
  }));
}
// Kernels and workers start from the entry bundles where they exist (scripts/bundle-entries.mjs):
// after a rebuild by tsc alone they would run the code as it was, so the bundles are made again.
const dist = new URL("../dist/", import.meta.url).pathname;
const bundles = ["kernel/server/kernel-process.bundle.js", "lib/cluster/worker-process.bundle.js", "lib/cluster/worker-runtime.bundle.js"].map((file) => join(dist, file));
const bundleTimes = bundles.flatMap((file) => { try { return [statSync(file).mtimeMs]; } catch { return []; } });
if (bundleTimes.length > 0 && Math.min(...bundleTimes) < Math.max(newestModule(join(dist, "lib")), newestModule(join(dist, "kernel")))) {
  console.error("test/run.mjs: modules are newer than the entry bundles; bundling again (node scripts/bundle-entries.mjs)");
  const bundled = spawnSync(process.execPath, [new URL("../scripts/bundle-entries.mjs", import.meta.url).pathname], { stdio: "inherit" });
  if (bundled.status !== 0) process.exit(bundled.status ?? 1);
}
const filters = process.argv.slice(2);
const files = findTests(root)
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files matched ${JSON.stringify(filters)} under ${root}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ["--test", "--test-concurrency=1", "--test-reporter=spec", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
