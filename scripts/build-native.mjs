// Builds ringbook's native addon (native/src/*.c → build/native/ringbook-blas.node) with OpenBLAS
// linked in statically, so the result needs nothing but glibc: OpenBLAS's symbols stay inside it
// (--exclude-libs,ALL), its DYNAMIC_ARCH kernels pick the CPU at load time, and our own loops are
// compiled for several vector widths (target_clones) and chosen the same way.
//
// Run by `npm run build`. Where no C compiler, no Node headers or no static OpenBLAS
// (libopenblas.a: Debian's libopenblas-dev / libopenblas-pthread-dev) is found, it says so and
// exits 0: ringbook then runs on plain wasm and says why in cluster.describe(). Skipped when the
// inputs are unchanged since the last build.
//
// Usage: node scripts/build-native.mjs [--force] [--prebuild]
//   --prebuild  also copy the result to prebuilds/<platform>-<arch>/ (what the npm package ships,
//               run by `npm pack`'s prepack), and fail loudly when it cannot be built.
// Environment: CC (compiler, default cc then gcc), RINGBOOK_OPENBLAS_LIB (a libopenblas.a),
// RINGBOOK_NODE_INCLUDE (a folder with node_api.h).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const sourceDir = join(root, "native", "src");
const outputDir = join(root, "build", "native");
const output = join(outputDir, "ringbook-blas.node");
const stampFile = join(outputDir, ".build-stamp");
const force = process.argv.includes("--force");
const prebuild = process.argv.includes("--prebuild");
const startedAt = performance.now();

/** Says why the addon is not built; fatal only for --prebuild. */
function skip(reason) {
  const message = `ringbook-blas: not built: ${reason}. ringbook will use plain wasm (cluster.describe() says why).`;
  if (prebuild) {
    console.error(message);
    process.exit(1);
  }
  console.log(message);
  process.exit(0);
}

/** @param {string} command @param {string[]} args */
function probe(command, args) {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function findCompiler() {
  const candidates = process.env.CC ? [process.env.CC] : ["cc", "gcc"];
  return candidates.find((cc) => probe(cc, ["--version"]) !== undefined);
}

function findNodeInclude() {
  const candidates = [
    process.env.RINGBOOK_NODE_INCLUDE,
    join(dirname(process.execPath), "..", "include", "node"),
    "/usr/include/node",
    "/usr/local/include/node",
    join(homedir(), ".cache", "node-gyp", process.versions.node, "include", "node"),
  ].filter((dir) => dir !== undefined);
  return candidates.find((dir) => existsSync(join(dir, "node_api.h")));
}

function findOpenblas(cc) {
  if (process.env.RINGBOOK_OPENBLAS_LIB) return existsSync(process.env.RINGBOOK_OPENBLAS_LIB) ? process.env.RINGBOOK_OPENBLAS_LIB : undefined;
  const multiarch = probe(cc, ["-print-multiarch"]) || `${process.arch === "x64" ? "x86_64" : process.arch}-linux-gnu`;
  const candidates = [
    `/usr/lib/${multiarch}/openblas-pthread/libopenblas.a`,
    `/usr/lib/${multiarch}/libopenblas.a`,
    `/usr/lib/${multiarch}/openblas-openmp/libopenblas.a`,
    "/usr/lib64/libopenblas.a",
    "/usr/lib/libopenblas.a",
    "/usr/local/lib/libopenblas.a",
    "/opt/OpenBLAS/lib/libopenblas.a",
  ];
  return candidates.find((path) => existsSync(path));
}

if (process.platform !== "linux") skip(`only Linux builds are set up (this is ${process.platform})`);
const cc = findCompiler();
if (cc === undefined) skip("no C compiler (set CC, or install gcc)");
const include = findNodeInclude();
if (include === undefined) skip("no node_api.h (install Node's headers, or set RINGBOOK_NODE_INCLUDE)");
const openblas = findOpenblas(cc);
if (openblas === undefined) skip("no static OpenBLAS, libopenblas.a (Debian: apt-get install libopenblas-dev; or set RINGBOOK_OPENBLAS_LIB)");

const sources = readdirSync(sourceDir).filter((name) => name.endsWith(".c") || name.endsWith(".h")).sort();
const cSources = sources.filter((name) => name.endsWith(".c")).map((name) => join(sourceDir, name));
const flags = [
  "-O3", "-std=c11", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror",
  // The optimizers must round every operation as tfjs does: no fused multiply-add contraction.
  "-ffp-contract=off", "-fno-math-errno", "-fvisibility=hidden",
  `-I${include}`,
];
const linkFlags = [openblas, "-Wl,--exclude-libs,ALL", "-Wl,--gc-sections", "-Wl,-O1", "-s", "-lm", "-lpthread"];
const stamp = createHash("sha256")
  .update(JSON.stringify({ cc: probe(cc, ["--version"]), flags, linkFlags, openblas: statSync(openblas).size }))
  .update(sources.map((name) => readFileSync(join(sourceDir, name))).join("\0"))
  .digest("hex");
const upToDate = !force && existsSync(output) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp;

if (!upToDate) {
  mkdirSync(outputDir, { recursive: true });
  const temporary = join(outputDir, `ringbook-blas.${process.pid}.tmp.node`);
  const compile = spawnSync(cc, [...flags, ...cSources, ...linkFlags, "-o", temporary], { encoding: "utf8" });
  if (compile.status !== 0) {
    rmSync(temporary, { force: true });
    skip(`${cc} failed:\n${compile.stdout}${compile.stderr}`);
  }
  // Load it in a fresh process before it replaces the previous build: a library it needs and
  // cannot find (say, libgfortran from a different OpenBLAS) shows here, not at ringbook's start.
  const check = spawnSync(process.execPath, ["-e", `const a = require(${JSON.stringify(temporary)}); process.stdout.write(a.info().config)`], {
    encoding: "utf8",
    env: { ...process.env, OPENBLAS_NUM_THREADS: "1" },
  });
  if (check.status !== 0) {
    rmSync(temporary, { force: true });
    skip(`the built addon does not load: ${check.stderr.trim().split("\n")[0]}`);
  }
  renameSync(temporary, output);
  writeFileSync(stampFile, stamp);
  const megabytes = (statSync(output).size / 2 ** 20).toFixed(1);
  console.log(`ringbook-blas: built ${output} (${megabytes} MiB, ${check.stdout}, ${openblas}) in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
}

if (prebuild) {
  const target = join(root, "prebuilds", `${process.platform}-${process.arch}`, "ringbook-blas.node");
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(output, target);
  console.log(`ringbook-blas: prebuilt binary for the package at ${target}`);
}
