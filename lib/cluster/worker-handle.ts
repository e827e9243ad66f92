/**
 * The owner's side of one worker process: starts it through the cluster's launcher (a child
 * process here, an srun step on a Slurm node) with its bootstrap on stdin (the pipe that keeps it
 * alive), keeps the last lines of its stderr for error messages, forwards stray output, and
 * reports its exit. Whatever ends the owner closes the pipe, and the worker exits by itself.
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { RingbookError } from "../errors.js";
import type { Rank } from "../ids.js";
import { processExecArgv } from "../threads/interruptible-thread-options.js";
import { builtEntry } from "./built-entry.js";
import type { WorkerExit } from "./cluster-errors.js";
import type { WorkerBootstrap } from "./worker-bootstrap.js";
import type { WorkerLauncher } from "./worker-launcher.js";

/** Lines of stderr kept for error messages. */
const stderrTailLines = 20;
/** After `exit`, how long to wait for the last stderr bytes before reporting. */
const stdioDrainMs = 200;
/** How long a kill through the launcher may take before the launcher's process is SIGKILLed. */
const remoteKillGraceMs = 1000;

/** A worker's lifecycle. */
export type WorkerState = "starting" | "ready" | "dead" | "closed";

/** What the worker said about itself when it became ready. */
export interface WorkerInfo {
  pid: number;
  host: string;
  backend: string;
  /** What the backend is, in a few words (e.g. the BLAS inside wasm-blas). */
  backendSummary: string;
  device: string;
  tfjsVersion: string;
  startMs: number;
  notes: string[];
}

/** The worker's main thread as one file where the build made it: ~15-20 ms less CPU per worker start. */
const workerEntry = fileURLToPath(builtEntry("worker-process", import.meta.url));

/** One worker process as seen by its owner. */
export class WorkerHandle {
  readonly rank: Rank;
  readonly incarnation: number;
  readonly child: ChildProcess;
  state: WorkerState = "starting";
  info: WorkerInfo | undefined;
  host = "";
  /** The worker's pid on its host, as it said (srun's child is a different process). */
  remotePid: number | undefined;
  /** "job.step" of the Slurm step it runs in, as it said; null outside Slurm. */
  slurmStep: string | null = null;
  lastPongAt = performance.now();
  /** Resolves once the process has exited and its stderr is drained. */
  readonly exited: Promise<WorkerExit>;
  readonly #launcher: WorkerLauncher;
  /** A kill through the launcher was asked for (see kill). */
  #killingRemotely = false;
  #stderrTail: string[] = [];
  #partialLine = "";
  #killedBecause: string | undefined;

  constructor(
    bootstrap: WorkerBootstrap,
    options: { env: NodeJS.ProcessEnv; launcher: WorkerLauncher; onStrayOutput: (rank: number, stream: "stdout" | "stderr", text: string) => void },
  ) {
    this.rank = bootstrap.rank;
    this.incarnation = bootstrap.incarnation;
    this.child = options.launcher.start({
      rank: bootstrap.rank,
      incarnation: bootstrap.incarnation,
      worldSize: bootstrap.worldSize,
      command: process.execPath,
      args: [...workerExecArgv(), workerEntry],
      cwd: bootstrap.cwd,
      env: options.env,
    });
    const child = this.child;
    child.stdin?.on("error", () => undefined); // EPIPE when the worker is gone: its exit is reported instead
    const line = JSON.stringify(bootstrap);
    const launcher = options.launcher;
    this.#launcher = launcher;
    if (launcher.sealBootstrap === undefined) child.stdin?.write(`${line}\n`);
    else this.#sendSealed(launcher.sealBootstrap(line));
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (text: string) => options.onStrayOutput(this.rank, "stdout", text));
    child.stderr?.on("data", (text: string) => {
      this.#keepStderr(text);
      options.onStrayOutput(this.rank, "stderr", text);
    });
    this.exited = new Promise<WorkerExit>((resolve) => {
      const spawnFailed = (error: Error): void => {
        this.#keepStderr(`spawn failed: ${error.message}\n`);
        finish(null, null);
      };
      const finish = (exitCode: number | null, signal: NodeJS.Signals | null): void => {
        child.off("error", spawnFailed);
        this.state = this.state === "closed" ? "closed" : "dead";
        const report = (): void => {
          if (this.#partialLine) this.#stderrTail.push(this.#partialLine);
          this.#partialLine = "";
          const exit: WorkerExit = { rank: this.rank, pid: this.remotePid ?? child.pid, host: this.host, exitCode, signal, stderrTail: this.#stderrTail.slice(-stderrTailLines) };
          if (this.#killedBecause !== undefined) exit.killedBecause = this.#killedBecause;
          resolve(exit);
        };
        // stdio may still hold the last words; 'close' fires when it is drained.
        const timer = setTimeout(report, stdioDrainMs);
        child.once("close", () => {
          clearTimeout(timer);
          report();
        });
      };
      child.once("error", spawnFailed);
      child.once("exit", finish);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.state === "starting" || this.state === "ready";
  }

  /**
   * Kills the worker, remembering why for the error message: through its launcher where the
   * launcher can (a Slurm step's task, so that srun exits by itself and Slurm frees the step's CPUs
   * at once), and the process it started (SIGKILL) if that has not exited {@link remoteKillGraceMs}
   * later; else that process at once.
   */
  kill(reason: string): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.#killedBecause ??= reason;
    const launcher = this.#launcher;
    if (launcher.killRemote === undefined || this.#killingRemotely) {
      this.child.kill("SIGKILL");
      return;
    }
    this.#killingRemotely = true;
    const killLocally = (): void => {
      clearTimeout(fallback);
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    };
    const fallback = setTimeout(killLocally, remoteKillGraceMs);
    this.child.once("exit", () => clearTimeout(fallback));
    // Nothing to kill that way, or a failure: the process is killed here at once.
    launcher.killRemote(this.rank, this.incarnation).then(
      (signalled) => {
        if (!signalled) killLocally();
      },
      () => killLocally(),
    );
  }

  /**
   * Writes the sealed bootstrap once the launcher made it; a bootstrap that cannot be sealed is
   * never sent in clear: the worker is killed with the reason, which its exit then reports.
   */
  #sendSealed(sealing: Promise<string>): void {
    sealing.then(
      (sealed) => void this.child.stdin?.write(`${sealed}\n`),
      (error: unknown) => this.kill(`its bootstrap could not be sealed: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  /** Closes the stdin pipe: the worker exits on its own. */
  releasePipe(): void {
    this.child.stdin?.end();
  }

  /** Keeps stderr text the worker relayed over its control socket (its tasks' console.error). */
  noteStderr(text: string): void {
    this.#keepStderr(text);
  }

  #keepStderr(text: string): void {
    const lines = (this.#partialLine + text).split("\n");
    this.#partialLine = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") this.#stderrTail.push(line);
    if (this.#stderrTail.length > stderrTailLines * 2) this.#stderrTail = this.#stderrTail.slice(-stderrTailLines);
  }
}

/**
 * V8's heap growth for workers, unless the owner sets its own: after a full collection, the old
 * generation may grow to 3x its live size before the next one. V8's own rule grows a small heap
 * (~25 MB in a training worker) by as little as 2x, and it counts external memory allocated since
 * then (ZeroMQ's received chunks, ~1 MB per step) against that room: once the room left fell below
 * the young generation's size, V8 started a full collection every 5-8 steps, for the rest of the
 * run (2-worker MNIST MLP: 20-32 full collections per 150 steps and 13-15k samples/s, against 1-2
 * and 20-22k in runs that escaped it; about half the runs fell into it). With 3x, none did.
 */
export const workerHeapFlags: readonly string[] = ["--heap-growing-percent=200"];

/**
 * Node flags for workers: the owner's own `--max-old-space-size` and friends are kept (a notebook
 * started with more heap wants workers with more heap), inspector and test flags are not.
 */
function workerExecArgv(): string[] {
  const inherited = processExecArgv().filter((flag) => /^--(max-old-space-size|max-semi-space-size|stack-size|expose-gc|heap-growing-percent)/.test(flag));
  return inherited.some((flag) => flag.startsWith("--heap-growing-percent")) ? inherited : [...inherited, ...workerHeapFlags];
}

/** Checks a world size given by a user. */
export function parseWorkerCount(value: unknown, what = "workers"): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > 1024) {
    throw new RingbookError("ERR_BAD_OPTION", `${what} must be an integer from 1 to 1024, got ${JSON.stringify(value)}`);
  }
  return value;
}
