/**
 * A function task's stack frames on the workers name the script each worker compiled it into
 * (`/notebooks/[rank 1] task:1:46`), whose line 1 is the function's first line. Where the
 * function was written in a cell this thread ran (a notebook cell that called `cluster.run`), the
 * frames are rewritten as frames of that cell (`/notebooks/In[6]:3:12`, compiled positions), which
 * the kernel then writes with the cell's TypeScript line and column, as for the cell's own frames.
 */
import { threadCellSources } from "../script/cell-sources.js";
import { ClusterTaskError } from "./cluster-errors.js";

/** `[rank 3] task:12:5` in a frame: the task script's name (see rank-runtime), line and column. */
const taskFrame = /\[rank \d+\] task:(\d+):(\d+)/g;

/**
 * Rewrites, in place, the task frames of `error` (a ClusterTaskError and each rank's error) as
 * frames of the cell that defines the task's source; returns `error`. Errors of other kinds, and
 * functions no recorded cell contains, are left as they are.
 */
export async function withCellFrames(error: unknown, taskSource: string): Promise<unknown> {
  if (!(error instanceof ClusterTaskError)) return error;
  const errors: Error[] = [error, ...error.failures.map((failure) => failure.error)];
  // search() ignores the global regex's lastIndex.
  if (!errors.some((each) => (each.stack?.search(taskFrame) ?? -1) >= 0)) return error;
  const { compiledSnippetPosition } = await import("../script/compile-cell.js");
  const start = threadCellSources.find((source, options) => compiledSnippetPosition(source, options, taskSource));
  if (start === undefined) return error;
  const rewrite = (_frame: string, line: string, column: string): string => {
    // The worker compiled `(${source}\n)`: on its first line the function starts at column 2.
    const taskLine = Number(line);
    const cellLine = start.line + taskLine - 1;
    const cellColumn = taskLine === 1 ? start.column + Number(column) - 2 : Number(column);
    return `${start.name}:${cellLine}:${cellColumn}`;
  };
  for (const each of errors) {
    if (each.stack !== undefined) each.stack = each.stack.replace(taskFrame, rewrite);
  }
  return error;
}
