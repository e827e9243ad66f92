/** Errors a cluster's operations fail with; each names the rank and what happened to it. */
import { RingbookError } from "../errors.js";
import type { RemoteErrorInfo } from "./messages.js";

/** How a worker process ended. */
export interface WorkerExit {
  rank: number;
  pid: number | undefined;
  /** The host it ran on, as it said ("" before it said). */
  host: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Its last stderr lines, oldest first. */
  stderrTail: string[];
  /** Set when the owner killed it, and why. */
  killedBecause?: string;
}

function describeExit(exit: WorkerExit): string {
  const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
  const why = exit.killedBecause === undefined ? "" : ` (killed by the owner: ${exit.killedBecause})`;
  const tail = exit.stderrTail.length === 0 ? " It wrote nothing to stderr." : ` Its last stderr lines:\n${exit.stderrTail.map((line) => `  | ${line}`).join("\n")}`;
  const where = exit.host === "" ? "" : ` on ${exit.host}`;
  return `worker rank ${exit.rank} (pid ${exit.pid ?? "?"}) ${how}${where}${why}.${tail}`;
}

/** A worker died while an operation needed it. */
export class WorkerDiedError extends RingbookError {
  readonly rank: number;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: readonly string[];

  constructor(exit: WorkerExit, during: string) {
    super("ERR_WORKER_DIED", `${describeExit(exit)}\nIt died during ${during}. Restart it with cluster.restart().`);
    this.rank = exit.rank;
    this.exitCode = exit.exitCode;
    this.signal = exit.signal;
    this.stderrTail = exit.stderrTail;
  }
}

/** Code on a worker threw; the worker stays usable. */
export class RemoteTaskError extends RingbookError {
  readonly rank: number;
  readonly remote: RemoteErrorInfo;

  constructor(rank: number, remote: RemoteErrorInfo) {
    super("ERR_REMOTE_TASK", `[rank ${rank}] ${remote.name}: ${remote.message}`);
    this.rank = rank;
    this.remote = remote;
    // The remote stack is the useful one: it points into the task's code on the worker.
    this.stack = `${this.name}: ${this.message}\n${remote.stack
      .split("\n")
      .filter((line) => /^\s+at /.test(line))
      .map((line) => `    [rank ${rank}]${line}`)
      .join("\n")}`;
  }
}

/** Some ranks failed a task: one error per failed rank, results of the others kept. */
export class ClusterTaskError extends RingbookError {
  readonly failures: ReadonlyArray<{ rank: number; error: Error }>;
  /** Results by position in the task's ranks; `undefined` where that rank failed. */
  readonly results: readonly unknown[];

  constructor(failures: ReadonlyArray<{ rank: number; error: Error }>, results: readonly unknown[]) {
    const first = failures[0];
    const summary =
      failures.length === 1 && first
        ? first.error.message
        : `${failures.length} ranks failed:\n${failures.map(({ error }) => error.message.split("\n").map((line) => `  ${line}`).join("\n")).join("\n")}`;
    super(first?.error instanceof RingbookError ? first.error.code : "ERR_CLUSTER_TASK", summary, { cause: first?.error });
    this.failures = failures;
    this.results = results;
    if (failures.length === 1 && first?.error.stack) this.stack = first.error.stack;
    else {
      // Every failed rank's own frames, each prefixed with its rank (see RemoteTaskError).
      const frames = failures.flatMap(({ error }) => (error.stack ?? "").split("\n").filter((line) => /^\s+\[rank \d+\]/.test(line)));
      this.stack = [`${this.name}: ${this.message}`, ...frames].join("\n");
    }
  }
}

/** A task was interrupted (by the notebook's interrupt or `cluster.interrupt()`). */
export class TaskInterruptedError extends RingbookError {
  constructor(ranks: readonly number[]) {
    super("ERR_INTERRUPTED", `the task was interrupted on rank${ranks.length === 1 ? "" : "s"} ${ranks.join(", ")}; the workers kept their state`);
  }
}

/** The cluster is closed, or closing. */
export class ClusterClosedError extends RingbookError {
  constructor(what: string) {
    super("ERR_CLUSTER_CLOSED", `cannot ${what}: the cluster is closed`);
  }
}
