// Builds the real JupyterLab 4.6.4 front end that the JupyterLab tests drive (test/jupyterlab/),
// from npm alone: JupyterLab's own staging files in test/jupyterlab/app/ (package.json, lock,
// bootstrap.js, index.js, webpack configs, templates), `npm ci --ignore-scripts` there, then
// rspack, laid out as the `jupyterlab` Python package's application directory:
//   DIR/staging    the staging files and their node_modules (~600 MB)
//   DIR/static     the application (index.html is a Jinja template for jupyterlab_server)
//   DIR/schemas    settings schemas of the core extensions
//   DIR/themes     light and dark themes
//   DIR/settings   overrides.json: no "fetch news?" prompt, no update check
// DIR is ${XDG_CACHE_HOME:-~/.cache}/ringbook/jupyterlab-<first 16 hex of sha256(package-lock.json)>,
// so every checkout on a machine shares one install per lock. Two stamps, each removed before the
// step it vouches for and written last: staging/node_modules/.ringbook-npm-ci (the lock's hash:
// npm ci is skipped while it matches) and build-complete.json (the hash of every file in app/,
// the build mode and this script: rspack is skipped while it matches). An interrupted install or
// build leaves no stamp and is redone. A lock folder (DIR.lock, holding the builder's pid and start
// time) keeps two builds of one DIR from running at once; a later one waits for the first and then
// finds its stamp.
//
// Usage: node scripts/build-jupyterlab.mjs [--mode prod|dev|prod-minimize]
//   prints the costs (npm ci s, rspack s, sizes) on stderr and, last on stdout,
//   JUPYTERLAB_APP_DIR=<DIR>
// --mode: which of JupyterLab's rspack configs (default prod, see README "JupyterLab tests").
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const appSource = fileURLToPath(new URL("../test/jupyterlab/app/", import.meta.url));
const configs = { "prod-minimize": "webpack.prod.minimize.config.js", prod: "webpack.prod.config.js", dev: "webpack.config.js" };
/** How long a second builder waits for the first (a cold build takes 1-3 min on 2 cores). */
const lockWaitMs = 20 * 60_000;

const { values } = parseArgs({ options: { mode: { type: "string", default: "prod" } } });
const mode = values.mode ?? "prod";
if (!Object.hasOwn(configs, mode)) {
  console.error(`build-jupyterlab: --mode must be one of ${Object.keys(configs).join(", ")}, got ${JSON.stringify(mode)}`);
  process.exit(2);
}
const config = configs[/** @type {keyof typeof configs} */ (mode)];

/** @param {string} dir @returns {string[]} every file below `dir`, sorted */
function filesUnder(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => (statSync(join(dir, name)).isDirectory() ? filesUnder(join(dir, name)) : [join(dir, name)]));
}
/** @param {string | Buffer} data */
const sha256 = (data) => createHash("sha256").update(data).digest("hex");

const lockHash = sha256(readFileSync(join(appSource, "package-lock.json")));
const inputs = createHash("sha256").update(`mode ${mode}\0`).update(readFileSync(fileURLToPath(import.meta.url)));
for (const file of filesUnder(appSource)) inputs.update(relative(appSource, file)).update("\0").update(readFileSync(file)).update("\0");
const inputsHash = inputs.digest("hex");

const cacheRoot = join(process.env["XDG_CACHE_HOME"] || join(homedir(), ".cache"), "ringbook");
const appDir = join(cacheRoot, `jupyterlab-${lockHash.slice(0, 16)}`);
const staging = join(appDir, "staging");
const npmStamp = join(staging, "node_modules", ".ringbook-npm-ci");
const buildStamp = join(appDir, "build-complete.json");
const lockDir = `${appDir}.lock`;

/** @returns {boolean} whether build-complete.json vouches for these very inputs */
function buildComplete() {
  try {
    const stamp = JSON.parse(readFileSync(buildStamp, "utf8"));
    return typeof stamp === "object" && stamp !== null && stamp.inputsHash === inputsHash && existsSync(join(appDir, "static", "index.html"));
  } catch {
    return false;
  }
}

/** @param {number} pid @returns {string | undefined} the process's start time (field 22 of /proc/PID/stat) */
function startTicksOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** @param {number} pid @returns {{ pid: number, startTicks: string | undefined }} the process, identified by pid and start time */
const identity = (pid) => ({ pid, startTicks: startTicksOf(pid) });

/** @param {unknown} proc @returns {boolean} whether that very process (pid and start time) runs */
function runs(proc) {
  return typeof proc === "object" && proc !== null && "pid" in proc && typeof proc.pid === "number" && "startTicks" in proc && startTicksOf(proc.pid) === proc.startTicks;
}

/**
 * @returns {boolean} whether the builder named in the lock folder, or the step it started (npm ci or
 * rspack, which outlive a builder killed with SIGKILL), still runs
 */
function lockHolderRuns() {
  try {
    const owner = JSON.parse(readFileSync(join(lockDir, "owner.json"), "utf8"));
    return runs(owner?.builder) || runs(owner?.step);
  } catch {
    // No owner.json yet: its builder is between mkdir and write, or died right there. Young: wait.
    const age = Date.now() - (statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs ?? 0);
    return age < 10_000;
  }
}

/** @param {number | undefined} stepPid records the builder and its current step in the lock folder */
function writeOwner(stepPid) {
  writeFileSync(join(lockDir, "owner.json"), JSON.stringify({ builder: identity(process.pid), step: stepPid === undefined ? null : identity(stepPid) }));
}

/** Takes the lock folder; waits while another live builder holds it; takes over a dead one's. */
async function acquireLock() {
  mkdirSync(cacheRoot, { recursive: true });
  const deadline = Date.now() + lockWaitMs;
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeOwner(undefined);
      return;
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== "EEXIST") throw error;
    }
    if (!lockHolderRuns()) {
      console.error(`build-jupyterlab: ${lockDir} was left by a builder that no longer runs; taking it over`);
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`build-jupyterlab: ${lockDir} still held after ${lockWaitMs / 60_000} min (${readFileSync(join(lockDir, "owner.json"), "utf8")})`);
    if (!announced) console.error(`build-jupyterlab: another build of ${appDir} is running; waiting for it`);
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The step running now, which a SIGTERM or SIGINT to the builder passes on to. */
let currentStep = /** @type {import("node:child_process").ChildProcess | undefined} */ (undefined);
for (const signal of /** @type {const} */ (["SIGTERM", "SIGINT"])) {
  process.on(signal, () => {
    currentStep?.kill(signal);
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}

/**
 * Runs a build step, recorded in the lock folder while it runs; its output (rspack prints ~140
 * license and duplicate-package warnings) goes to `log`, whose end is printed if the step fails.
 * @param {string} command @param {string[]} args @param {string} cwd @param {string} log
 */
async function run(command, args, cwd, log) {
  const fd = openSync(log, "w");
  let outcome;
  try {
    writeFileSync(fd, `$ ${command} ${args.join(" ")}\n`);
    const child = spawn(command, args, { cwd, stdio: ["ignore", fd, fd] });
    currentStep = child;
    if (child.pid !== undefined) writeOwner(child.pid);
    outcome = await new Promise((resolve) => {
      child.once("error", (error) => resolve(error.message));
      child.once("close", (code, signal) => resolve(code === 0 ? undefined : `exit ${code ?? signal}`));
    });
  } finally {
    currentStep = undefined;
    closeSync(fd);
    writeOwner(undefined);
  }
  if (outcome !== undefined) {
    process.stderr.write(readFileSync(log, "utf8").split("\n").slice(-40).join("\n"));
    throw new Error(`build-jupyterlab: \`${command} ${args.join(" ")}\` in ${cwd} failed (${outcome}); its output is in ${log}`);
  }
}

/** @param {string} path @returns {string} its size, as `du -sh` prints it */
function sizeOf(path) {
  const result = spawnSync("du", ["-sh", path], { encoding: "utf8" });
  return result.stdout.split("\t")[0] ?? "?";
}

const seconds = (/** @type {number} */ since) => ((performance.now() - since) / 1000).toFixed(1);

async function build() {
  if (buildComplete()) {
    console.error(`build-jupyterlab: up to date (${appDir})`);
    return;
  }
  await acquireLock();
  try {
    if (buildComplete()) {
      console.error(`build-jupyterlab: built meanwhile by another builder (${appDir})`);
      return;
    }
    rmSync(buildStamp, { force: true });
    mkdirSync(join(staging, "templates"), { recursive: true });
    for (const file of filesUnder(appSource)) cpSync(file, join(staging, relative(appSource, file)));

    const npmStarted = performance.now();
    let npmCost = "skipped, node_modules matches the lock";
    if (!existsSync(npmStamp) || readFileSync(npmStamp, "utf8") !== lockHash) {
      rmSync(npmStamp, { force: true });
      await run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], staging, join(appDir, "npm-ci.log"));
      writeFileSync(npmStamp, lockHash);
      npmCost = `${seconds(npmStarted)} s`;
    }

    // JupyterLab's webpack.config.js writes build/ from index.js and bootstrap.js, copies the
    // extensions' schemas and themes to .. and the built files to ../static.
    for (const output of ["static", "schemas", "themes", "settings"]) rmSync(join(appDir, output), { recursive: true, force: true });
    const rspackStarted = performance.now();
    await run(process.execPath, [join(staging, "node_modules", "@rspack", "cli", "bin", "rspack.js"), "--config", config], staging, join(appDir, "rspack.log"));
    const rspackCost = `${seconds(rspackStarted)} s`;
    rmSync(join(staging, "build"), { recursive: true, force: true }); // a copy of static/
    mkdirSync(join(appDir, "settings"));
    const overrides = { "@jupyterlab/apputils-extension:notification": { fetchNews: "false", checkForUpdates: false } };
    writeFileSync(join(appDir, "settings", "overrides.json"), `${JSON.stringify(overrides, null, 2)}\n`);
    if (!existsSync(join(appDir, "static", "index.html"))) throw new Error(`build-jupyterlab: rspack finished without ${join(appDir, "static", "index.html")}`);

    const version = JSON.parse(readFileSync(join(appDir, "static", "package.json"), "utf8")).version;
    const sizes = { node_modules: sizeOf(join(staging, "node_modules")), static: sizeOf(join(appDir, "static")), schemas: sizeOf(join(appDir, "schemas")), themes: sizeOf(join(appDir, "themes")) };
    writeFileSync(buildStamp, `${JSON.stringify({ inputsHash, lockHash, mode, version, npmCi: npmCost, rspack: rspackCost, sizes, builtAt: new Date().toISOString() }, null, 2)}\n`);
    console.error(`build-jupyterlab: JupyterLab ${version} (${mode}) in ${appDir}: npm ci ${npmCost}, rspack ${rspackCost}; node_modules ${sizes.node_modules}, static ${sizes.static}, schemas ${sizes.schemas}, themes ${sizes.themes}`);
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

try {
  await build();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
console.log(`JUPYTERLAB_APP_DIR=${appDir}`);
