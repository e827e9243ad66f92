import { isMainThread, Worker, type WorkerOptions } from "node:worker_threads";

/**
 * Options for a worker thread whose JavaScript may be stopped with the inspector's
 * `Runtime.terminateExecution` (our interrupt). Node pushes the async-id of a timer, immediate or
 * tick callback in JavaScript and pops it in a `finally` that a termination skips; when the native
 * callback scope then closes, Node's consistency check sees the unbalanced stack and aborts the
 * whole process ("async hook stack has become corrupted"). A busy loop inside `setTimeout` would
 * kill the kernel or the worker. `--no-force-async-hooks-checks` turns that check off for the
 * thread (it comes back if anything enables async_hooks, which ringbook never does in these
 * threads); the stack is simply popped, which is what an interrupted callback needs.
 */
export const interruptibleThreadExecArgv: readonly string[] = ["--no-force-async-hooks-checks"];

/**
 * A worker thread with `execArgv` = the process's own flags plus
 * {@link interruptibleThreadExecArgv}. V8 and per-process flags (`--max-old-space-size`,
 * `--expose-gc`, `--title`...) are left out when the process has them: `new Worker` refuses them
 * with ERR_WORKER_INVALID_EXEC_ARGV, and a thread has them anyway (V8's flags are process-wide).
 * So a kernel or a worker process started with more heap still starts its thread.
 */
export function startInterruptibleThread(script: URL, threadOptions: Omit<WorkerOptions, "execArgv" | "env">): Worker {
  // The thread's process.execArgv will be its own flags: it learns the process's from its env.
  const options: WorkerOptions = { ...threadOptions, env: { ...process.env, [processFlagsVariable]: JSON.stringify(processExecArgv()) } };
  let inherited = [...process.execArgv];
  for (;;) {
    try {
      return new Worker(script, { ...options, execArgv: [...inherited, ...interruptibleThreadExecArgv] });
    } catch (error) {
      if (!isRefusedFlags(error) || inherited.length === 0) throw error;
      // Node names the refused arguments: "Initiated Worker with invalid execArgv flags: --a, --b".
      // Without them, then (if the message named none of ours) without any inherited flag.
      const refused = new Set(error.message.slice(error.message.indexOf(":") + 1).split(",").map((flag) => flag.trim()));
      const kept = inherited.filter((flag) => !refused.has(flag));
      inherited = kept.length < inherited.length ? kept : [];
    }
  }
}

function isRefusedFlags(error: unknown): error is Error {
  return error instanceof Error && (error as { code?: unknown }).code === "ERR_WORKER_INVALID_EXEC_ARGV";
}

const processFlagsVariable = "RINGBOOK_PROCESS_EXEC_ARGV";

/**
 * The Node flags this process was started with, also inside a thread started by
 * {@link startInterruptibleThread} (where `process.execArgv` holds the thread's own flags): a
 * kernel started with `--max-old-space-size` passes it on to the workers a cell launches.
 */
export function processExecArgv(): string[] {
  if (isMainThread) return [...process.execArgv];
  const passed = process.env[processFlagsVariable];
  if (passed !== undefined) {
    try {
      const flags: unknown = JSON.parse(passed);
      if (Array.isArray(flags) && flags.every((flag) => typeof flag === "string")) return flags as string[];
    } catch {
      // Not ours: fall back to the thread's own flags.
    }
  }
  return [...process.execArgv];
}
