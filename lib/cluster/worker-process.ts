/**
 * Entry point of a cluster worker process; its main thread is the supervisor. It reads its
 * bootstrap (and the cluster secret) from stdin, connects to the owner's control socket, starts
 * the execution thread (worker-runtime.ts: a RankRuntime) and relays between the two. Because user code runs in the
 * other thread, this one always answers heartbeats and can interrupt a busy task through the
 * inspector. It exits as soon as its stdin reaches EOF: the owner died or closed the pipe, so no
 * worker outlives its notebook, whatever killed it.
 */
import { hostname } from "node:os";
import { getHeapStatistics } from "node:v8";
import { Worker } from "node:worker_threads";
import * as zmq from "zeromq";
import { RingbookError } from "../errors.js";
import { inspectorCall } from "../threads/code-thread.js";
import { ThreadInterrupter } from "../threads/thread-interrupter.js";
import { WorkerInspector } from "../threads/worker-inspector.js";
import { startInterruptibleThread } from "../threads/interruptible-thread-options.js";
import { ClusterSecret } from "../transport/cluster-secret.js";
import { SerialSender } from "../transport/serial-sender.js";
import { copyReceivedFrames } from "../transport/copied-receives.js";
import { signFrames, verifyFrames } from "../transport/signed-frames.js";
import { clientSocketOptions } from "../transport/link-security.js";
import { encodeFromWorker, parseToWorker, routingIdOf, type FromWorker, type ToWorker, type WorkerIdentity } from "./messages.js";
import { closeSocketsKey, interruptProbeKey, type FromExecution, type ToExecution } from "./thread-protocol.js";
import { builtEntry } from "./built-entry.js";
import { checkReachable } from "./endpoint-reachability.js";
import { checkSlurmStepEnvironment, type SlurmStepEnvironment } from "./slurm-step-environment.js";
import { parseSealedBootstrap, unsealWithMunge } from "./munge-seal.js";
import { linkSecurityOf, parseWorkerBootstrap, type WorkerBootstrap } from "./worker-bootstrap.js";

/** The execution thread's code as bundled where the build made it: its ~115 modules cost ~40-70 ms more CPU per worker. */
const executionEntry = builtEntry("worker-runtime", import.meta.url);

/** How long an awaiting (not busy) execution thread gets to acknowledge an interrupt. */
const idleAckMs = 150;
/** How long it gets after `terminateExecution` before the worker gives up on it and exits. */
const terminatedAckMs = 1000;
/** How long a worker tries to open a TCP connection to its owner before it gives up, saying where it tried. */
const reachOwnerTimeoutMs = 5000;
/**
 * A worker exits when its owner has not answered ZMTP heartbeats for this long (plus at most one
 * interval): within 5 s of a killed owner or a cut link, whatever the owner's heartbeat settings.
 * Its stdin's end says the same sooner where the pipe reaches it, but a cut link ends no pipe.
 */
const ownerHeartbeatIntervalMs = 1000;
const ownerHeartbeatTimeoutMs = 3000;
/** The bootstrap line must arrive within this time. */
const bootstrapTimeoutMs = 10_000;

function logLine(identity: WorkerIdentity | undefined, line: string): void {
  process.stderr.write(`[ringbook worker${identity ? ` ${identity.rank}` : ""}] ${line}\n`);
}

/** Reads stdin's first line; afterwards, stdin's end means the owner is gone. */
function readBootstrapLine(): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new RingbookError("ERR_BOOTSTRAP_TIMEOUT", `no bootstrap line on stdin within ${bootstrapTimeoutMs} ms`)), bootstrapTimeoutMs);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString("utf8");
      const newline = text.indexOf("\n");
      if (newline < 0) return;
      clearTimeout(timer);
      process.stdin.off("data", onData);
      resolve(text.slice(0, newline));
    };
    process.stdin.on("data", onData);
    process.stdin.once("end", () => reject(new RingbookError("ERR_BOOTSTRAP_EOF", "stdin ended before the bootstrap line")));
  });
}

class Supervisor {
  readonly #bootstrap: WorkerBootstrap;
  readonly #identity: WorkerIdentity;
  readonly #key: Buffer;
  readonly #dealer: zmq.Dealer;
  readonly #sender: SerialSender;
  #execution: Worker | undefined;
  #inspector: WorkerInspector | undefined;
  /** Tasks sent to the execution thread and not yet answered. */
  readonly #tasksInFlight = new Set<string>();
  readonly #interrupter: ThreadInterrupter;
  /** Interrupts run one after another. */
  #interrupting: Promise<void> = Promise.resolve();
  #exiting = false;
  #shutdownDone: (() => void) | undefined;
  #executionExited = false;

  constructor(bootstrap: WorkerBootstrap) {
    this.#bootstrap = bootstrap;
    this.#identity = { rank: bootstrap.rank, incarnation: bootstrap.incarnation };
    this.#key = ClusterSecret.fromHex(bootstrap.secretHex).signingKey;
    this.#dealer = new zmq.Dealer({
      routingId: routingIdOf(this.#identity),
      linger: 2000,
      // ZMTP heartbeats, answered by the owner's ZeroMQ I/O thread: they stop only when the owner
      // process or the network is gone, not while its JavaScript is busy with a long cell.
      heartbeatInterval: ownerHeartbeatIntervalMs,
      heartbeatTimeout: ownerHeartbeatTimeoutMs,
      ...clientSocketOptions(linkSecurityOf(bootstrap)),
    });
    this.#dealer.connect(bootstrap.controlEndpoint);
    this.#sender = new SerialSender(this.#dealer, "control", (line) => logLine(this.#identity, line));
    this.#interrupter = new ThreadInterrupter((line) => logLine(this.#identity, line));
  }

  send(message: FromWorker, payload: Uint8Array | null = null): void {
    const header = encodeFromWorker(message, this.#identity);
    const payloads = payload === null ? [] : [Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)];
    this.#sender.enqueue(signFrames(this.#key, header, payloads));
  }

  async run(): Promise<void> {
    this.send({ type: "hello", pid: process.pid, host: hostname(), slurmStep: slurmStep === undefined ? null : `${slurmStep.jobId}.${slurmStep.stepId}` });
    const execution = startInterruptibleThread(executionEntry, {
      workerData: this.#bootstrap,
      // The process's own heap limit, stated for the thread: a thread over its limit is stopped
      // with ERR_WORKER_OUT_OF_MEMORY, which is logged and says what happened, where a process
      // over the same limit aborted in whichever native allocation failed first.
      resourceLimits: { maxOldGenerationSizeMb: Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20) },
    });
    this.#execution = execution;
    execution.on("message", (message: FromExecution) => this.#fromExecution(message));
    execution.on("error", (error) => {
      logLine(this.#identity, `execution thread failed: ${error.stack ?? error.message}`);
      void this.exit(1);
    });
    execution.once("exit", (code) => {
      this.#executionExited = true;
      if (this.#exiting) return;
      logLine(this.#identity, `execution thread exited with code ${code}`);
      void this.exit(code === 0 ? 1 : code);
    });
    this.#inspector = await WorkerInspector.attach(execution, { signal: AbortSignal.timeout(10_000) });
    await Promise.all([this.#receiveLoop(), this.#watchOwnerConnection()]);
  }

  #fromExecution(message: FromExecution): void {
    switch (message.type) {
      case "forward": {
        const forwarded = message.message;
        if (forwarded.type === "result") this.#tasksInFlight.delete(forwarded.taskId);
        this.send(forwarded, message.payload);
        if (forwarded.type === "startFailed") void this.exit(3);
        return;
      }
      case "interruptAck":
        this.#interrupter.acknowledge(message.seq);
        return;
      case "shutdownDone":
        this.#shutdownDone?.();
        return;
      default: {
        const impossible: never = message;
        logLine(this.#identity, `unknown message from the execution thread: ${JSON.stringify(impossible)}`);
      }
    }
  }

  /** Exits when the connection to the owner drops (heartbeats unanswered, or closed by its end). */
  async #watchOwnerConnection(): Promise<void> {
    try {
      for await (const event of this.#dealer.events) {
        if (event.type !== "disconnect" || this.#exiting) continue;
        logLine(this.#identity, `lost the owner at ${this.#bootstrap.controlEndpoint} (no answer to heartbeats for ${ownerHeartbeatTimeoutMs / 1000} s, or it closed the connection); exiting`);
        await this.exit(6);
        return;
      }
    } catch (error) {
      if (!this.#dealer.closed) logLine(this.#identity, `watching the owner's connection failed: ${(error as Error).message}`);
    }
  }

  async #receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.#dealer) {
        const verified = verifyFrames(this.#key, frames);
        if (!verified.ok) {
          logLine(this.#identity, `dropped a control message: ${verified.reason}`);
          this.send({ type: "rejected", reason: `dropped a message: ${verified.reason}` });
          continue;
        }
        let message: ToWorker;
        try {
          message = parseToWorker(verified.header);
        } catch (error) {
          logLine(this.#identity, `dropped a control message: ${(error as Error).message}`);
          this.send({ type: "rejected", reason: (error as Error).message });
          continue;
        }
        this.#handle(message, verified.payloads[0] ?? null);
      }
    } catch (error) {
      if (!this.#dealer.closed) logLine(this.#identity, `control socket failed: ${(error as Error).message}`);
    }
  }

  #post(message: ToExecution): void {
    this.#execution?.postMessage(message);
  }

  #handle(message: ToWorker, payload: Buffer | null): void {
    switch (message.type) {
      case "ping":
        this.send({ type: "pong", seq: message.seq, busy: this.#tasksInFlight.size > 0 });
        return;
      case "task":
        this.#tasksInFlight.add(message.taskId);
        this.#post({ type: "task", taskId: message.taskId, task: message.task, payload: payload === null ? null : new Uint8Array(payload) });
        return;
      case "interrupt":
        this.#interrupting = this.#interrupting.then(() => this.#interrupt(message.taskId));
        return;
      case "mesh":
      case "peers":
      case "peerDied":
      case "stopTraining":
        this.#post(message);
        return;
      case "shutdown":
        void this.#shutDown();
        return;
      default: {
        const impossible: never = message;
        logLine(this.#identity, `unhandled message ${JSON.stringify(impossible)}`);
      }
    }
  }

  /** Closes the execution thread's ZeroMQ sockets through the inspector (works while it is busy). */
  async #closeExecutionSockets(): Promise<void> {
    const inspector = this.#inspector;
    if (!inspector || this.#executionExited) return;
    const expression = inspectorCall(closeSocketsKey, [], { optional: true });
    await Promise.race([inspector.send("Runtime.evaluate", { expression }).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 500).unref())]);
  }

  /**
   * Interrupts task `taskId` (or whatever runs, for `null`) as the kernel interrupts a cell (see
   * threads/thread-interrupter). A thread that no longer answers is beyond saving: the process
   * exits and the owner reports it as dead.
   */
  async #interrupt(taskId: string | null): Promise<void> {
    const inFlight = (): boolean => (taskId === null ? this.#tasksInFlight.size > 0 : this.#tasksInFlight.has(taskId));
    const inspector = this.#inspector;
    if (!inFlight() || !inspector) return;
    const outcome = await this.#interrupter.interrupt(inspector, {
      probe: (seq) => inspectorCall(interruptProbeKey, [seq, taskId]),
      stillRunning: inFlight,
      idleAckMs,
      terminatedAckMs,
    });
    if (outcome === "stopped") return;
    logLine(this.#identity, "the execution thread did not recover from an interrupt; exiting");
    await this.exit(4);
  }

  /**
   * An orderly end asked by the owner: the execution thread closes its peer mesh with goodbyes
   * (so the other ranks see a departure, not a death), then the process exits. A busy thread that
   * does not answer within 1.5 s is not waited for.
   */
  async #shutDown(): Promise<void> {
    const done = new Promise<void>((resolve) => {
      this.#shutdownDone = resolve;
      setTimeout(resolve, 1500).unref();
    });
    this.#post({ type: "shutdown" });
    await done;
    await this.exit(0);
  }

  /** Sends what is queued, closes the execution thread's sockets, then ends the process. */
  async exit(code: number): Promise<void> {
    if (this.#exiting) return;
    this.#exiting = true;
    await this.#closeExecutionSockets();
    this.#inspector?.close();
    await Promise.race([this.#sender.close(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    this.#dealer.close();
    process.exit(code);
  }
}

let bootstrap: WorkerBootstrap;
try {
  const line = await readBootstrapLine();
  // From a launcher whose pipe crosses the network (srun), the line is sealed with munge.
  const sealed = parseSealedBootstrap(line);
  bootstrap = parseWorkerBootstrap(sealed === undefined ? line : await unsealWithMunge(sealed));
} catch (error) {
  logLine(undefined, `cannot start: ${(error as Error).message}`);
  process.exit(2);
}
// Checked before anything connects: a step that is not where its owner placed it, or an owner
// this host cannot reach, fails here with what was expected and what was found.
let slurmStep: SlurmStepEnvironment | undefined;
try {
  if (bootstrap.slurm !== undefined) {
    slurmStep = checkSlurmStepEnvironment(process.env, bootstrap.slurm);
    if (bootstrap.gpu && slurmStep.gpus === null) throw new RingbookError("ERR_SLURM_PLACEMENT", `the owner asked Slurm for GPUs (gpusPerTask), but step ${slurmStep.jobId}.${slurmStep.stepId} on ${slurmStep.nodeName} has none (SLURM_JOB_GPUS and CUDA_VISIBLE_DEVICES unset)`);
  }
  await checkReachable(bootstrap.controlEndpoint, reachOwnerTimeoutMs);
} catch (error) {
  logLine({ rank: bootstrap.rank, incarnation: bootstrap.incarnation }, `cannot start: ${(error as Error).message}`);
  process.exit(5);
}
// Before any socket of this process receives: gradients arrive as copies (see copied-receives.ts).
await copyReceivedFrames().catch((error: unknown) => logLine({ rank: bootstrap.rank, incarnation: bootstrap.incarnation }, `received frames stay ZeroMQ's buffers: ${(error as Error).message}`));
const supervisor = new Supervisor(bootstrap);
// The owner holds the other end of stdin: when it ends, the owner is gone (exited, killed, or
// closed the cluster). Exit at once; there is nobody left to report to.
process.stdin.once("end", () => void supervisor.exit(0));
process.stdin.once("error", () => void supervisor.exit(0));
process.stdin.resume();
await supervisor.run().catch(async (error: unknown) => {
  logLine({ rank: bootstrap.rank, incarnation: bootstrap.incarnation }, `supervisor failed: ${(error as Error).stack ?? String(error)}`);
  await supervisor.exit(1);
});
