import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RingbookError } from "../../lib/errors.js";
import { parseConnectionInfo, type ConnectionInfo } from "../protocol/connection-info.js";
import { KernelClient } from "./kernel-client.js";
import { descendantsOf, reapProcesses } from "../../lib/process/process-tree.js";

const kernelMain = fileURLToPath(new URL("../main.js", import.meta.url));

/**
 * How long a kernel may take to exit after its shutdown_reply: it first closes what cells left
 * open (worker clusters; see the executor's shutdown hooks), then its sockets.
 */
const shutdownGraceMs = 8000;
/** The {@link shutdownGraceMs} to exit count from the shutdown_reply, or from this long after the request when the reply comes later. */
const replyWaitMs = 2000;
/** How long the shutdown's reply and idle status may come after the kernel exited. */
const lastMessagesGraceMs = 1000;
/** How long processes the kernel started may take to exit after it (they see their stdin end). */
const descendantGraceMs = 3000;

/** Options of {@link LocalKernel.start}. */
export interface LocalKernelOptions {
  /** The kernel's working directory (the notebook's folder). */
  cwd: string;
  /** Extra environment for the kernel. */
  env?: NodeJS.ProcessEnv;
  /** Kernel log lines (its stderr). @default ignored */
  onStderr?: (text: string) => void;
  log?: (line: string) => void;
  /** @default 30000 */
  startTimeoutMs?: number;
}

/**
 * A ringbook kernel in a child process, connected over ipc sockets in a private directory (no
 * ports to race for), with a client attached and ready. `close()` asks the kernel to shut down,
 * waits briefly, then kills it by PID, and removes the directory: on every path. Processes the
 * kernel started (worker clusters) are waited for too, and killed if they linger, so none
 * outlives `close()`.
 */
export class LocalKernel {
  readonly client: KernelClient;
  readonly #process: ChildProcess;
  readonly #dir: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #log: (line: string) => void;
  #closing: Promise<void> | undefined;

  private constructor(process: ChildProcess, client: KernelClient, dir: string, exited: LocalKernel["exited"], log: (line: string) => void) {
    this.#process = process;
    this.#log = log;
    this.client = client;
    this.#dir = dir;
    this.exited = exited;
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  static async start(options: LocalKernelOptions): Promise<LocalKernel> {
    const dir = await mkdtemp(join(tmpdir(), "ringbook-kernel-"));
    const connection = {
      transport: "ipc",
      ip: join(dir, "kernel"),
      shell_port: 1,
      iopub_port: 2,
      stdin_port: 3,
      control_port: 4,
      hb_port: 5,
      key: randomBytes(32).toString("hex"),
      signature_scheme: "hmac-sha256",
      kernel_name: "ringbook",
    };
    const connectionFile = join(dir, "connection.json");
    await writeFile(connectionFile, JSON.stringify(connection), { mode: 0o600 });
    const info: ConnectionInfo = parseConnectionInfo(connection);
    const child = spawn(process.execPath, [kernelMain, "--connection-file", connectionFile], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk: Buffer) => options.onStderr?.(chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => options.onStderr?.(chunk.toString("utf8")));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", () => resolve({ code: null, signal: null }));
    });
    const client = new KernelClient(info, options.log);
    const kernel = new LocalKernel(child, client, dir, exited, options.log ?? ((line) => options.onStderr?.(`[ringbook] ${line}\n`)));
    try {
      const timeout = AbortSignal.timeout(options.startTimeoutMs ?? 30_000);
      const died = exited.then(({ code, signal }) => {
        throw new RingbookError("ERR_KERNEL_DIED", `the kernel exited during start-up (code ${code}, signal ${signal})`);
      });
      await Promise.race([client.waitForReady({ signal: timeout }), died]);
    } catch (error) {
      await kernel.close();
      throw error;
    }
    return kernel;
  }

  /** Interrupts the running cell (interrupt_request on control). */
  async interrupt(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.client.request("control", "interrupt_request", {}, options);
  }

  /**
   * Shuts the kernel down and removes its files. Idempotent; never leaves the process, or a
   * process it started, behind.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const running = this.#process.exitCode === null && this.#process.signalCode === null;
      if (running) {
        // Taken now: once the kernel exits, what it started is no longer below it.
        const started = this.#process.pid === undefined ? [] : descendantsOf(this.#process.pid);
        // Completes on its reply and its idle status: what the kernel published while it shut down
        // (a training run's final state, in the cell that started it) comes before that idle.
        const answered = this.client.request("control", "shutdown_request", { restart: false }, { signal: AbortSignal.timeout(shutdownGraceMs) }).then(
          () => true,
          () => false,
        );
        const exitedInTime = await Promise.race([
          this.exited.then(() => true),
          Promise.race([answered, delay(replyWaitMs)]).then(() => delay(shutdownGraceMs).then(() => false)),
        ]);
        // The process may be gone while its last iopub messages are still on their way.
        if (exitedInTime) await Promise.race([answered, delay(lastMessagesGraceMs)]);
        if (!exitedInTime && this.#process.pid !== undefined) {
          this.#log(`the kernel (pid ${this.#process.pid}) did not exit within ${shutdownGraceMs} ms of its shutdown; killing it`);
          this.#process.kill("SIGKILL");
          await this.exited;
        }
        const killed = await reapProcesses(started, { graceMs: descendantGraceMs });
        if (killed.length > 0) this.#log(`killed ${killed.length} process(es) the kernel left running: pid ${killed.map((p) => p.pid).join(", ")}`);
      }
      await this.client.close();
      await rm(this.#dir, { recursive: true, force: true });
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Resolves after `ms`, without keeping the process alive. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
