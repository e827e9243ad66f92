// Builds the JupyterLab extension extensions/ringbook-plotly as a prebuilt (federated)
// labextension into extensions/ringbook-plotly/labextension/, without Python or a JupyterLab
// install: `npm ci` in its folder when its node_modules is missing or older than its lockfile,
// `tsc`, then @jupyterlab/builder's build-labextension with a core path made from
// @jupyterlab/core-meta (JupyterLab's staging/package.json, whose dependencies, resolutions and
// singletonPackages become the shared modules the extension takes from JupyterLab).
// Skipped when its inputs are unchanged since the last build, so `npm run build` stays fast.
// Usage: node scripts/build-extension.mjs [--force]
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const extensionDir = join(root, "extensions", "ringbook-plotly");
const outputDir = join(extensionDir, "labextension");
const modulesDir = join(extensionDir, "node_modules");
/** Written after a successful build; lives in node_modules so a reinstall forces a rebuild. */
const stampFile = join(modulesDir, ".ringbook-build-stamp");
const inputs = ["package.json", "package-lock.json", "tsconfig.json", "webpack.config.js", "src", "test"];
const startedAt = performance.now();

/** @param {string} command @param {string[]} args */
function run(command, args, { quiet = false } = {}) {
  const result = spawnSync(command, args, { cwd: extensionDir, encoding: "utf8", stdio: quiet ? "pipe" : "inherit" });
  if (result.status !== 0) {
    if (quiet) process.stderr.write(`${result.stdout}${result.stderr}`);
    console.error(`ringbook-plotly: \`${command} ${args.join(" ")}\` failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`})`);
    process.exit(1);
  }
}

/** @param {string} path @returns {string[]} */
function filesUnder(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).sort().flatMap((name) => filesUnder(join(path, name)));
}

function inputsHash() {
  const hash = createHash("sha256").update(readFileSync(fileURLToPath(import.meta.url)));
  for (const file of inputs.flatMap((input) => filesUnder(join(extensionDir, input)))) {
    hash.update(relative(extensionDir, file)).update("\0").update(readFileSync(file)).update("\0");
  }
  return hash.digest("hex");
}

/** The built package.json names its remote entry; both must exist. */
function outputComplete() {
  try {
    const built = JSON.parse(readFileSync(join(outputDir, "package.json"), "utf8"));
    const load = built?.jupyterlab?._build?.load;
    return typeof load === "string" && existsSync(join(outputDir, load)) && existsSync(join(outputDir, "install.json"));
  } catch {
    return false;
  }
}

const installedLock = join(modulesDir, ".package-lock.json");
// A symlinked node_modules (a git worktree sharing another checkout's install) belongs to that
// checkout: `npm ci` here would empty the shared tree through the link. A fresh worktree's
// lockfile is always newer than the shared install, so mtimes say nothing there.
const sharedModules = lstatSync(modulesDir, { throwIfNoEntry: false })?.isSymbolicLink() === true;
if (sharedModules) {
  if (!existsSync(installedLock)) {
    console.error(`ringbook-plotly: ${relative(root, modulesDir)} is a symlink to an install without .package-lock.json; run "npm ci" where it points, not through the link`);
    process.exit(1);
  }
} else if (!existsSync(installedLock) || statSync(installedLock).mtimeMs < statSync(join(extensionDir, "package-lock.json")).mtimeMs) {
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}

const hash = inputsHash();
const force = process.argv.includes("--force");
if (!force && outputComplete() && existsSync(stampFile) && readFileSync(stampFile, "utf8") === hash) {
  console.log(`ringbook-plotly: up to date (${relative(root, outputDir)})`);
  process.exit(0);
}

rmSync(stampFile, { force: true });
rmSync(join(extensionDir, "lib"), { recursive: true, force: true });
const tsc = join(modulesDir, "typescript", "bin", "tsc");
run(process.execPath, [tsc, "-p", "tsconfig.json"]);
run(process.execPath, [tsc, "-p", join("test", "tsconfig.json")]); // the browser test's page: type-checked, not emitted
const corePath = mkdtempSync(join(tmpdir(), "ringbook-lab-core-"));
try {
  copyFileSync(join(modulesDir, "@jupyterlab", "core-meta", "core.package.json"), join(corePath, "package.json"));
  run(process.execPath, [join(modulesDir, "@jupyterlab", "builder", "lib", "build-labextension.js"), "--core-path", corePath, "."], { quiet: true });
} finally {
  rmSync(corePath, { recursive: true, force: true });
}
// What `jupyter labextension list` shows for a prebuilt extension that no Python package owns.
const install = {
  packageManager: "npm",
  packageName: "ringbook",
  uninstallInstructions: "Delete this folder (ringbook install copies it here)",
};
writeFileSync(join(outputDir, "install.json"), `${JSON.stringify(install, null, 2)}\n`);
if (!outputComplete()) {
  console.error(`ringbook-plotly: build-labextension finished but ${relative(root, outputDir)} is incomplete`);
  process.exit(1);
}
writeFileSync(stampFile, hash);
const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
console.log(`ringbook-plotly: built ${relative(root, outputDir)} in ${seconds} s`);
