/**
 * Messages between a worker process's supervisor (main thread: sockets, heartbeats, interrupts)
 * and its execution thread (tfjs, tasks, collectives). Same process, so no validation beyond
 * types; wire messages are checked by the supervisor before they get here.
 */
import type { FromWorker, TaskSpec } from "./messages.js";

/** Supervisor → execution thread. */
export type ToExecution =
  | { type: "task"; taskId: string; task: TaskSpec; payload: Uint8Array | null }
  | { type: "mesh"; generation: number; worldSize: number; bindAddress: string }
  | { type: "peers"; generation: number; endpoints: string[] }
  | { type: "peerDied"; generation: number; rank: number; reason: string }
  | { type: "stopTraining"; taskId: string }
  /** The process is about to end on purpose: say goodbye to the peers, close the sockets. */
  | { type: "shutdown" };

/** Execution thread → supervisor: a wire message to forward (with its payload), or a local note. */
export type FromExecution =
  | { type: "forward"; message: FromWorker; payload: Uint8Array | null }
  | { type: "interruptAck"; seq: number }
  | { type: "shutdownDone" };

/** Name of the global function the supervisor calls through the inspector to interrupt. */
export const interruptProbeKey = "ringbook.worker.interruptProbe";

/**
 * Name of the global function the supervisor calls through the inspector (which reaches even a
 * busy thread) before it ends the process: it closes the thread's ZeroMQ sockets synchronously,
 * since zeromq.js aborts the process when a thread is torn down with sockets open.
 */
export const closeSocketsKey = "ringbook.worker.closeSockets";
