/**
 * The server half of the JupyterLab tests: the real JupyterLab 4.6.4 front end (built once per lock
 * by scripts/build-jupyterlab.mjs, cached), served by Debian's jupyter_server 1.23 and
 * jupyterlab_server 2.16 (test/jupyterlab/serve-lab.py) on 127.0.0.1, with ringbook installed the
 * way a user installs it: `ringbook install --prefix DIR` writes the kernelspec and the prebuilt
 * labextension ringbook-plotly, and the server finds both on its JUPYTER_PATH.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { reapProcesses, type ProcessIdentity } from "../../lib/process/process-tree.js";
import { DescendantWatch } from "../helpers/process-watch.js";
import { runProcess } from "../helpers/run-process.js";
import { cliScript, debianPython, freePorts, makeTempDir, repoRoot } from "../kernel/helpers.js";

const buildScript = join(repoRoot, "scripts", "build-jupyterlab.mjs");
const serveScript = join(repoRoot, "test", "jupyterlab", "serve-lab.py");
/** A cold build (npm ci of 737 packages, then rspack) took 30-90 s here; 15 min bounds a slow mirror. */
const buildTimeoutMs = 15 * 60_000;
const startTimeoutMs = 60_000;
/** How long the server gets to shut its kernels down (it asks each, then kills it after 5 s). */
const stopTimeoutMs = 20_000;
/** Processes of a kernel that lingers once the server has exited get this long before SIGKILL. */
const leftoverGraceMs = 5_000;

/**
 * Plugins turned off, each for a reason:
 * - `@jupyterlab/debugger-extension` calls `displayModules()` after every execution, which throws
 *   "No active debugger session" on a kernel without a debugger (ringbook's kernel_info says so).
 */
export const disabledPlugins = ["@jupyterlab/debugger-extension"] as const;

/**
 * Builds the JupyterLab application if the cache has no complete build for its lock (the first
 * test file to ask pays for it: ~30-90 s cold, ~0.1 s cached); returns its folder. What the build
 * cost is written to stderr, where the test runner shows it.
 */
export async function buildJupyterLab(): Promise<string> {
  // Its own process group, so that a timeout stops npm ci or rspack too, not only the script.
  const builder = spawn(process.execPath, [buildScript], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  builder.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  builder.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const timer = setTimeout(() => {
    if (builder.pid !== undefined) process.kill(-builder.pid, "SIGKILL");
  }, buildTimeoutMs);
  const status = await new Promise<string>((resolve) => {
    builder.once("error", (error) => resolve(error.message));
    builder.once("close", (code, signal) => resolve(code === 0 ? "ok" : `exit ${code ?? signal}`));
  }).finally(() => clearTimeout(timer));
  process.stderr.write(stderr);
  const appDir = /^JUPYTERLAB_APP_DIR=(.+)$/m.exec(stdout)?.[1];
  if (status !== "ok" || appDir === undefined) {
    throw new Error(`scripts/build-jupyterlab.mjs failed (${status}${status.includes("SIGKILL") ? `: not done in ${buildTimeoutMs / 60_000} min` : ""}):\n${stdout}\n${stderr}`);
  }
  return appDir;
}

/** A running JupyterLab server with ringbook's kernelspec and labextension. */
export interface LabServer {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  token: string;
  pid: number;
  /** The server's root: notebooks the tests create live here. */
  rootDir: string;
  /** The kernelspec name ringbook was installed under. */
  kernelName: string;
  /** A URL of the lab UI with the token, e.g. `url("/lab/tree/a.ipynb")`. */
  url(path: string): string;
  /** Calls the REST API with the token; parses nothing. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** What the server printed so far. */
  log(): string;
  /**
   * Stops the server by its PID (SIGTERM: it shuts its kernels down), SIGKILL after 20 s; then
   * SIGKILLs every process ever seen below it that still runs 5 s later, removes its folders, and
   * rejects if there was any such process (no kernel or worker may outlive the test). Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Installs ringbook into a fresh prefix with `ringbook install --prefix` and starts the lab server
 * on a free port with a random token, its root a fresh folder, its state (settings, workspaces,
 * runtime files) in another. Resolves once `/api/status` answers.
 */
export async function startLabServer(appDir: string): Promise<LabServer> {
  const temp = await makeTempDir("jupyterlab");
  const prefix = join(temp.path, "prefix");
  const rootDir = join(temp.path, "notebooks");
  const stateDir = join(temp.path, "state");
  await mkdir(rootDir);
  const kernelName = "ringbook";
  const installed = await runProcess(process.execPath, [cliScript, "install", "--prefix", prefix, "--name", kernelName]);
  if (installed.code !== 0) {
    await temp.remove();
    throw new Error(`ringbook install --prefix failed: ${installed.stderr}`);
  }

  const [port] = await freePorts(1);
  const token = randomBytes(16).toString("hex");
  const origin = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, JLAB_TOKEN: token, RINGBOOK_HISTORY_FILE: join(temp.path, "history.jsonl"), PYDEVD_DISABLE_FILE_VALIDATION: "1" };
  // The kernel as a user gets it: its defaults, not a CI setting of the environment.
  delete env["RINGBOOK_TYPE_CHECK"];
  const args = [serveScript, "--app-dir", appDir, "--jupyter-path", join(prefix, "share", "jupyter"), "--root-dir", rootDir, "--state-dir", stateDir, "--port", String(port)];
  for (const plugin of disabledPlugins) args.push("--disable", plugin);
  const server = spawn(debianPython, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  server.once("error", (error) => (log += `spawn failed: ${error.message}\n`));
  server.stdout.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
  server.stderr.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  const pid = server.pid;
  if (pid === undefined) {
    // Nothing runs (spawn failed, its "error" event follows): there is nothing to stop.
    await temp.remove();
    throw new Error(`could not start ${debianPython} ${serveScript}: ${log}`);
  }
  const watch = new DescendantWatch();
  watch.watch(pid);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      let leftovers: ProcessIdentity[] = [];
      try {
        watch.sample();
        if (server.exitCode === null && server.signalCode === null) {
          process.kill(pid, "SIGTERM");
          const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), stopTimeoutMs).unref())]);
          if (!stopped && server.exitCode === null && server.signalCode === null) process.kill(pid, "SIGKILL");
          await exited;
        }
        leftovers = await reapProcesses(watch.seen, { graceMs: leftoverGraceMs });
      } finally {
        watch.stop();
        await temp.remove();
      }
      if (leftovers.length > 0) {
        throw new Error(`processes started under the lab server still ran ${leftoverGraceMs} ms after it stopped and were killed: ${JSON.stringify(leftovers)}\n${log.slice(-3000)}`);
      }
    })());

  try {
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (server.exitCode !== null || server.signalCode !== null) {
        const hint = /No module named '(jupyter_server|jupyterlab_server)'/.test(log) ? " (install Debian's jupyter-server and python3-jupyterlab-server)" : "";
        throw new Error(`the lab server exited (${server.exitCode ?? server.signalCode})${hint}:\n${log}`);
      }
      const answered = await fetch(`${origin}/api/status`, { headers: { authorization: `token ${token}` } }).then(
        (response) => response.ok,
        () => false, // not listening yet
      );
      if (answered) break;
      if (Date.now() > deadline) throw new Error(`the lab server did not answer ${origin}/api/status within ${startTimeoutMs / 1000} s:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  return {
    origin,
    token,
    pid,
    rootDir,
    kernelName,
    url: (path) => `${origin}${path}${path.includes("?") ? "&" : "?"}token=${token}`,
    api: (path, init = {}) => fetch(`${origin}${path}`, { ...init, headers: { authorization: `token ${token}`, "content-type": "application/json", ...init.headers } }),
    log: () => log,
    close,
  };
}
