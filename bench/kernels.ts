/**
 * Side-by-side benchmark of Jupyter kernels: ringbook against Deno's kernel, tslab and ipykernel.
 *
 * Usage: node dist/bench/kernels.js [--kernels ringbook,deno,tslab,ipykernel] [--cells 200]
 *        [--repeats 5] [--quick] [--json results.json] [--timeout-s N]
 *
 * Every kernelspec is installed into a private temp dir (JUPYTER_PATH/JUPYTER_DATA_DIR), never the
 * user's. One run of bench/kernel-driver.py (Debian's /usr/bin/python3 and jupyter_client) measures
 * all kernels, interleaved so that machine noise hits them alike. Every kernel process the driver
 * started is killed by PID at the end, also after an error or Ctrl-C.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBenchArgs } from "./bench-args.js";
import { RingbookError } from "../lib/errors.js";
import { parseDriverReport, type DriverReport } from "./kernel-bench-results.js";
import { evaluateGoals, renderGoals, renderTable, type KernelColumn } from "./kernel-bench-report.js";
import {
  BENCH_KERNELS,
  createJupyterDirs,
  installKernel,
  parseBenchKernel,
  privateJupyterEnv,
  type BenchKernel,
  type InstallOutcome,
  type JupyterDirs,
} from "./kernel-specs.js";
import { isStillRunning, parsePidLog, reapLoggedProcesses } from "./process-reaper.js";

const usage = "Usage: node dist/bench/kernels.js [--kernels ringbook,deno,tslab,ipykernel] [--cells 200]\n       [--repeats 5] [--quick] [--json results.json] [--timeout-s N]";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DRIVER = join(ROOT, "bench", "kernel-driver.py");
const PYTHON = "/usr/bin/python3";
/** How long the driver gets to shut its kernels down after SIGTERM before it is SIGKILLed. */
const DRIVER_GRACE_MS = 20_000;

interface BenchOptions {
  readonly kernels: readonly BenchKernel[];
  readonly cells: number;
  readonly repeats: number;
  readonly jsonPath: string | undefined;
  readonly timeoutMs: number;
}

function positiveInteger(raw: string | undefined, fallback: number, flag: string): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new RingbookError("BENCH_BAD_ARGUMENT", `${flag} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseBenchArgs(usage, {
    args: [...argv],
    options: {
      kernels: { type: "string" },
      cells: { type: "string" },
      repeats: { type: "string" },
      quick: { type: "boolean", default: false },
      json: { type: "string" },
      "timeout-s": { type: "string" },
    },
    strict: true,
  });
  const kernels = (values.kernels ?? BENCH_KERNELS.join(",")).split(",").map((word) => parseBenchKernel(word.trim()));
  const cells = positiveInteger(values.cells, values.quick ? 20 : 200, "--cells");
  const repeats = positiveInteger(values.repeats, values.quick ? 2 : 5, "--repeats");
  // Generous: a lost idle status costs the driver its 2 s grace; a start may take a few seconds.
  const defaultTimeoutS = 120 + kernels.length * (repeats * 30 + cells * 2 * 0.5);
  const timeoutMs = positiveInteger(values["timeout-s"], Math.ceil(defaultTimeoutS), "--timeout-s") * 1000;
  return { kernels: [...new Set(kernels)], cells, repeats, jsonPath: values.json, timeoutMs };
}

/**
 * Runs the driver on the installed kernelspecs and returns the JSON it wrote. On abort (Ctrl-C,
 * timeout) the driver gets SIGTERM and a grace period to shut its kernels down, then SIGKILL.
 * We wait for the driver's `exit`, not for its pipes: kernels inherit them and may outlive it.
 */
async function runDriver(
  specNames: readonly string[],
  options: BenchOptions,
  dirs: JupyterDirs,
  files: { readonly pidLog: string; readonly output: string },
  signal: AbortSignal,
): Promise<string> {
  signal.throwIfAborted();
  const args = [DRIVER, "--starts", String(options.repeats), "--cells", String(options.cells)];
  args.push("--pid-log", files.pidLog, "--output", files.output);
  for (const name of specNames) args.push("--kernel", name);
  const child = spawn(PYTHON, args, {
    env: privateJupyterEnv(dirs),
    cwd: dirs.runtimeDir,
    stdio: ["ignore", "ignore", "inherit"],
  });
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    child.kill("SIGTERM");
    killTimer = setTimeout(() => child.kill("SIGKILL"), DRIVER_GRACE_MS);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, exitSignal) => resolve({ code, signal: exitSignal }));
    });
    signal.throwIfAborted();
    if (exit.code !== 0) {
      throw new RingbookError("BENCH_DRIVER_FAILED", `kernel-driver.py exited with ${exit.code ?? exit.signal}; see its stderr above`);
    }
    return await readFile(files.output, "utf8");
  } finally {
    signal.removeEventListener("abort", onAbort);
    clearTimeout(killTimer);
  }
}

/** Kills whatever the driver left behind, by logged PID; returns a line for the report. */
async function reapKernels(pidLog: string): Promise<string> {
  let text = "";
  try {
    text = await readFile(pidLog, "utf8");
  } catch {
    return "no kernel processes were started";
  }
  const logged = parsePidLog(text);
  const killed = reapLoggedProcesses(logged);
  // SIGKILL is asynchronous: give the kernel a moment to take the processes away.
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && logged.some(isStillRunning)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const survivors = logged.filter(isStillRunning).map((p) => p.pid);
  if (survivors.length > 0) {
    throw new RingbookError("BENCH_ORPHANS", `kernel processes still running after SIGKILL: ${survivors.join(", ")}`);
  }
  return `${logged.length} kernel processes started; all gone at the end (${killed.length} needed SIGKILL from the orchestrator)`;
}

function checkSpecsArePrivate(report: DriverReport, dirs: JupyterDirs): void {
  for (const [name, outcome] of report.kernels) {
    if (outcome.state === "measured" && !outcome.result.resourceDir.startsWith(dirs.jupyterPath)) {
      throw new RingbookError(
        "BENCH_SPEC_NOT_PRIVATE",
        `kernelspec ${name} came from ${outcome.result.resourceDir}, not from ${dirs.jupyterPath}`,
      );
    }
  }
}

/** Aborted by SIGINT/SIGTERM: every wait of the run listens to it. */
const interrupt = new AbortController();

async function main(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  const onSignal = (name: NodeJS.Signals): void => {
    process.stderr.write(`\n[kernels] ${name}: stopping, shutting kernels down\n`);
    interrupt.abort(new RingbookError("BENCH_INTERRUPTED", `interrupted by ${name}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const root = await mkdtemp(join(tmpdir(), "ringbook-kbench-"));
  const pidLog = join(root, "kernel-pids.log");
  try {
    const dirs = await createJupyterDirs(root);
    const installs: InstallOutcome[] = [];
    for (const kernel of options.kernels) {
      process.stderr.write(`[kernels] installing ${kernel} into ${dirs.jupyterPath}\n`);
      installs.push(await installKernel(kernel, ROOT, dirs, { signal: interrupt.signal }));
    }
    const installed = installs.filter((i): i is Extract<InstallOutcome, { state: "installed" }> => i.state === "installed");
    if (installed.length === 0) throw new RingbookError("BENCH_NOTHING_TO_RUN", "no kernel could be installed");
    process.stderr.write(
      `[kernels] measuring ${installed.map((i) => i.kernel).join(", ")}: ${options.repeats} starts each, ` +
        `${options.cells} cells of each kind each, interleaved\n`,
    );
    const signal = AbortSignal.any([interrupt.signal, AbortSignal.timeout(options.timeoutMs)]);
    let driverJson: string;
    try {
      const files = { pidLog, output: join(root, "driver-output.json") };
      driverJson = await runDriver(installed.map((i) => i.specName), options, dirs, files, signal);
    } finally {
      process.stderr.write(`[kernels] ${await reapKernels(pidLog)}\n`);
    }
    const report = parseDriverReport(driverJson);
    checkSpecsArePrivate(report, dirs);
    const columns: KernelColumn[] = installs.map((install) => {
      if (install.state === "skipped") return install;
      const outcome = report.kernels.get(install.specName);
      if (outcome === undefined) throw new RingbookError("BENCH_DRIVER_OUTPUT", `driver reported nothing for ${install.specName}`);
      if (outcome.state === "failed") {
        const starts = outcome.startFailures.length > 0 ? `; failed starts: ${outcome.startFailures.join("; ")}` : "";
        return { state: "failed", kernel: install.kernel, reason: `${outcome.reason}${starts}` };
      }
      return { state: "measured", kernel: install.kernel, result: outcome.result };
    });
    const reference = (["ringbook", "deno"] as const).find((k) => columns.some((c) => c.kernel === k && c.state === "measured"));
    console.log(renderTable(columns, reference, options.cells, options.repeats));
    console.log(`\nringbook's goals (one noisy run; medians and p99, never a single time):\n${renderGoals(evaluateGoals(columns))}`);
    if (options.jsonPath !== undefined) {
      const json = { options, node: process.version, columns, goals: evaluateGoals(columns) };
      await writeFile(options.jsonPath, JSON.stringify(json, null, 1));
    }
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await rm(root, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const interrupted = interrupt.signal.aborted;
    process.stderr.write(`[kernels] ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exitCode = interrupted ? 130 : 1;
  },
);
