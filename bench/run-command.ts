import { spawn } from "node:child_process";
import { RingbookError } from "../lib/errors.js";

/** A failed or timed-out helper command of the benchmark (an installer, the driver). */
export class BenchCommandError extends RingbookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BENCH_COMMAND_FAILED", message, options);
  }
}

/** What a finished command printed. */
export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** Options for {@link runCommand}. */
export interface RunCommandOptions {
  /** Environment of the child. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Working directory of the child. @default process.cwd() */
  readonly cwd?: string;
  /** Kill the child (SIGKILL) and reject after this many milliseconds. */
  readonly timeoutMs: number;
  /** Abort (kills the child) on this signal. */
  readonly signal?: AbortSignal;
}

/**
 * Runs a short command to completion and returns its output; rejects with {@link BenchCommandError}
 * naming the command, exit status and stderr tail when it fails, times out or is aborted. The
 * child is killed by its PID on timeout/abort, so it never outlives the call.
 *
 * @example
 * const { stdout } = await runCommand("/usr/bin/python3", ["--version"], { timeoutMs: 5_000 });
 */
export async function runCommand(
  file: string,
  args: readonly string[],
  options: RunCommandOptions,
): Promise<CommandOutput> {
  const signal = AbortSignal.any([
    AbortSignal.timeout(options.timeoutMs),
    ...(options.signal ? [options.signal] : []),
  ]);
  const shown = [file, ...args].join(" ");
  signal.throwIfAborted();
  const child = spawn(file, args, {
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const onAbort = (): void => {
    child.kill("SIGKILL");
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code, exitSignal) => resolve({ code, signal: exitSignal }));
    });
    if (signal.aborted) {
      throw new BenchCommandError(`\`${shown}\` was stopped: ${String(signal.reason)}`, { cause: signal.reason });
    }
    if (exit.code !== 0) {
      throw new BenchCommandError(
        `\`${shown}\` exited with ${exit.code ?? exit.signal}; stderr: ${stderr.trim().slice(-800) || "(empty)"}`,
      );
    }
    return { stdout, stderr };
  } catch (error) {
    if (error instanceof BenchCommandError) throw error;
    throw new BenchCommandError(`\`${shown}\` could not run: ${String(error)}`, { cause: error });
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
