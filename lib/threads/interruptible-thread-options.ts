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

/** `execArgv` for `new Worker(...)`: the process's own flags plus {@link interruptibleThreadExecArgv}. */
export function interruptibleExecArgv(): string[] {
  return [...process.execArgv, ...interruptibleThreadExecArgv];
}
