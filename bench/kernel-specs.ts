import { existsSync } from "node:fs";
import { mkdir, readFile, realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { RingbookError } from "../lib/errors.js";
import { runCommand } from "./run-command.js";

/** The kernels the benchmark knows how to install; each is installed under this kernelspec name. */
export const BENCH_KERNELS = ["ringbook", "deno", "tslab", "ipykernel"] as const;
/** One of {@link BENCH_KERNELS}. */
export type BenchKernel = (typeof BENCH_KERNELS)[number];

/** Narrows a command-line word to a {@link BenchKernel}, or throws naming the word. */
export function parseBenchKernel(word: string): BenchKernel {
  const found = BENCH_KERNELS.find((kernel) => kernel === word);
  if (found === undefined) {
    throw new RingbookError(
      "BENCH_UNKNOWN_KERNEL",
      `unknown kernel ${JSON.stringify(word)}; expected one of ${BENCH_KERNELS.join(", ")}`,
    );
  }
  return found;
}

/** A private Jupyter directory layout inside a temp dir, so the user's real dirs are never touched. */
export interface JupyterDirs {
  /** `--prefix` for installers: kernelspecs land in `<prefix>/share/jupyter/kernels/<name>`. */
  readonly prefix: string;
  /** The only entry of JUPYTER_PATH: `<prefix>/share/jupyter`. */
  readonly jupyterPath: string;
  readonly dataDir: string;
  readonly runtimeDir: string;
  readonly ipythonDir: string;
  /** HOME for installers: whatever one writes "to the user's dir" stays inside the temp dir. */
  readonly homeDir: string;
}

/** Lays out (and creates) private Jupyter dirs under `root`. */
export async function createJupyterDirs(root: string): Promise<JupyterDirs> {
  const prefix = join(root, "prefix");
  const dirs: JupyterDirs = {
    prefix,
    jupyterPath: join(prefix, "share", "jupyter"),
    dataDir: join(root, "data"),
    runtimeDir: join(root, "runtime"),
    ipythonDir: join(root, "ipython"),
    homeDir: join(root, "home"),
  };
  for (const dir of [join(dirs.jupyterPath, "kernels"), dirs.dataDir, dirs.runtimeDir, dirs.ipythonDir, dirs.homeDir]) {
    await mkdir(dir, { recursive: true });
  }
  return dirs;
}

/** The environment every installer and the driver run with: Jupyter looks only at the private dirs. */
export function privateJupyterEnv(dirs: JupyterDirs): NodeJS.ProcessEnv {
  return {
    ...process.env,
    JUPYTER_PATH: dirs.jupyterPath,
    JUPYTER_DATA_DIR: dirs.dataDir,
    JUPYTER_RUNTIME_DIR: dirs.runtimeDir,
    JUPYTER_CONFIG_DIR: join(dirs.dataDir, "config"),
    IPYTHONDIR: dirs.ipythonDir,
    // Debian's debugpy warns on stderr at every ipykernel start otherwise.
    PYDEVD_DISABLE_FILE_VALIDATION: "1",
  };
}

/** The outcome of installing one kernel: ready to run, or skipped with the reason. */
export type InstallOutcome =
  | { readonly state: "installed"; readonly kernel: BenchKernel; readonly specName: string; readonly argv: readonly string[] }
  | { readonly state: "skipped"; readonly kernel: BenchKernel; readonly reason: string };

const INSTALL_TIMEOUT_MS = 60_000;

/** Installers also get a private HOME and XDG_DATA_HOME: a tool that ignores JUPYTER_* still cannot reach the user's dirs. */
function installerEnv(dirs: JupyterDirs): NodeJS.ProcessEnv {
  return {
    ...privateJupyterEnv(dirs),
    HOME: dirs.homeDir,
    XDG_DATA_HOME: join(dirs.homeDir, ".local", "share"),
    NO_COLOR: "1",
  };
}

/** Reads `<jupyterPath>/kernels/<name>/kernel.json` and returns its argv, or throws naming the file. */
async function readSpecArgv(dirs: JupyterDirs, specName: string): Promise<{ file: string; spec: Record<string, unknown>; argv: string[] }> {
  const file = join(dirs.jupyterPath, "kernels", specName, "kernel.json");
  if (!existsSync(file)) {
    throw new RingbookError("BENCH_SPEC_MISSING", `the installer wrote no kernelspec at ${file}`);
  }
  const parsed: unknown = JSON.parse(await readFile(file, "utf8"));
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new RingbookError("BENCH_SPEC_INVALID", `${file} is not a JSON object`);
  }
  const spec = Object.fromEntries(Object.entries(parsed));
  const argv = spec["argv"];
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((word): word is string => typeof word === "string")) {
    throw new RingbookError("BENCH_SPEC_INVALID", `${file} has no argv of strings: ${JSON.stringify(argv)}`);
  }
  if (!argv.includes("{connection_file}")) {
    throw new RingbookError("BENCH_SPEC_INVALID", `${file} argv never passes {connection_file}: ${JSON.stringify(argv)}`);
  }
  return { file, spec, argv };
}

/** tslab's own installer (Python, via Debian's jupyter_client), pointed at our node_modules tslab. */
async function installTslab(root: string, dirs: JupyterDirs, signal: AbortSignal): Promise<readonly string[]> {
  const tslabBin = await realpath(join(root, "node_modules", "tslab", "bin", "tslab"));
  await runCommand(
    tslabBin,
    ["install", "--python", "/usr/bin/python3", "--binary", tslabBin, "--prefix", dirs.prefix],
    { env: installerEnv(dirs), timeoutMs: INSTALL_TIMEOUT_MS, signal },
  );
  const { file, spec, argv } = await readSpecArgv(dirs, "tslab");
  if (argv[0] !== tslabBin) {
    throw new RingbookError("BENCH_SPEC_INVALID", `${file} starts ${argv[0]}, not our ${tslabBin}`);
  }
  // tslab's script starts with `#!/usr/bin/env node`; pin the node running this bench instead, so
  // every Node-based kernel runs on the same Node whatever PATH says.
  const pinned = [process.execPath, ...argv];
  await writeFile(file, JSON.stringify({ ...spec, argv: pinned }, null, 1));
  return pinned;
}

/**
 * `deno jupyter --install` ignores JUPYTER_DATA_DIR and writes to `$XDG_DATA_HOME/jupyter/kernels`
 * (default `~/.local/share`): point XDG_DATA_HOME at `<prefix>/share`.
 */
async function installDeno(root: string, dirs: JupyterDirs, signal: AbortSignal): Promise<readonly string[]> {
  const denoBin = await realpath(join(root, "node_modules", "deno", "deno"));
  await runCommand(denoBin, ["jupyter", "--install", "--name", "deno", "--force"], {
    env: { ...installerEnv(dirs), XDG_DATA_HOME: join(dirs.prefix, "share") },
    cwd: dirs.prefix,
    timeoutMs: INSTALL_TIMEOUT_MS,
    signal,
  });
  const { file, argv } = await readSpecArgv(dirs, "deno");
  const expected = [denoBin, "jupyter", "--kernel", "--conn", "{connection_file}"];
  if (JSON.stringify(argv) !== JSON.stringify(expected)) {
    throw new RingbookError("BENCH_SPEC_INVALID", `${file} argv ${JSON.stringify(argv)} is not ${JSON.stringify(expected)}`);
  }
  return argv;
}

/** Debian's ipykernel: the kernelspec `python -m ipykernel install` would write, by hand. */
async function installIpykernel(dirs: JupyterDirs): Promise<readonly string[]> {
  const dir = join(dirs.jupyterPath, "kernels", "ipykernel");
  await mkdir(dir, { recursive: true });
  const argv = ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"];
  const spec = { argv, display_name: "Python 3 (ipykernel, bench)", language: "python", metadata: { debugger: true } };
  await writeFile(join(dir, "kernel.json"), JSON.stringify(spec, null, 1));
  return argv;
}

/** ringbook's own CLI, if it has been built. */
async function installRingbook(root: string, dirs: JupyterDirs, signal: AbortSignal): Promise<InstallOutcome> {
  const cli = join(root, "dist", "kernel", "cli.js");
  if (!existsSync(cli)) {
    return { state: "skipped", kernel: "ringbook", reason: `${cli} does not exist yet (build ringbook's kernel first)` };
  }
  // JUPYTER_DATA_DIR (and XDG_DATA_HOME, HOME) also point at private paths, so a `--user` style
  // install lands in the same kernels dir as `--prefix` does.
  const env = { ...installerEnv(dirs), JUPYTER_DATA_DIR: dirs.jupyterPath, XDG_DATA_HOME: join(dirs.prefix, "share") };
  const attempts = [
    ["install", "--prefix", dirs.prefix, "--name", "ringbook"],
    ["install", "--user", "--name", "ringbook"],
  ];
  const failures: string[] = [];
  for (const args of attempts) {
    try {
      await runCommand(process.execPath, [cli, ...args], { env, timeoutMs: INSTALL_TIMEOUT_MS, signal });
      const { argv } = await readSpecArgv(dirs, "ringbook");
      return { state: "installed", kernel: "ringbook", specName: "ringbook", argv };
    } catch (error) {
      signal.throwIfAborted();
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  return { state: "skipped", kernel: "ringbook", reason: `install failed both ways: ${failures.join(" | ")}` };
}

/**
 * Installs one kernel's kernelspec into the private dirs (never the user's) and returns its argv.
 * A missing ringbook build is a skip, not an error; a baseline that fails to install throws.
 */
export async function installKernel(
  kernel: BenchKernel,
  root: string,
  dirs: JupyterDirs,
  options: { signal: AbortSignal },
): Promise<InstallOutcome> {
  switch (kernel) {
    case "ringbook":
      return installRingbook(root, dirs, options.signal);
    case "deno":
      return { state: "installed", kernel, specName: "deno", argv: await installDeno(root, dirs, options.signal) };
    case "tslab":
      return { state: "installed", kernel, specName: "tslab", argv: await installTslab(root, dirs, options.signal) };
    case "ipykernel":
      return { state: "installed", kernel, specName: "ipykernel", argv: await installIpykernel(dirs) };
    default: {
      const unreachable: never = kernel;
      throw new RingbookError("BENCH_UNKNOWN_KERNEL", `no installer for ${String(unreachable)}`);
    }
  }
}
