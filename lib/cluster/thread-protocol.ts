/**
 * Messages between a worker process's supervisor (main thread: sockets, heartbeats, interrupts)
 * and its execution thread (tfjs, tasks, collectives). Wire messages are checked by the
 * supervisor before they get here; what crosses to the execution thread is checked again there
 * ({@link parseToExecution}), so a bug shows as a clear error rather than a wrong cast.
 */
import { isJsonObject, quote } from "../json-guards.js";
import { ClusterMessageError, parseToWorkerFields, type FromWorker, type TaskSpec } from "./messages.js";

/** Supervisor → execution thread. */
export type ToExecution =
  | { type: "task"; taskId: string; task: TaskSpec; payload: Uint8Array | null }
  | { type: "mesh"; generation: number; worldSize: number; bindAddress: string; hosts: string[] }
  | { type: "peers"; generation: number; endpoints: string[] }
  | { type: "peerDied"; generation: number; rank: number; reason: string }
  | { type: "stopTraining"; taskId: string }
  /** The process is about to end on purpose: say goodbye to the peers, close the sockets. */
  | { type: "shutdown" };

/** Narrows a message from the supervisor, in the execution thread. */
export function parseToExecution(message: unknown): ToExecution {
  if (!isJsonObject(message)) throw new ClusterMessageError(`the supervisor sent the execution thread a non-object: ${quote(message)}`);
  if (message["type"] === "shutdown") return { type: "shutdown" };
  const payload = message["payload"];
  const parsed = parseToWorkerFields(message);
  switch (parsed.type) {
    case "task":
      if (payload !== null && !(payload instanceof Uint8Array)) throw new ClusterMessageError(`a task's payload must be bytes or null, got ${quote(payload)}`);
      return { type: "task", taskId: parsed.taskId, task: parsed.task, payload };
    case "mesh":
    case "peers":
    case "peerDied":
    case "stopTraining":
      return parsed;
    default:
      throw new ClusterMessageError(`the supervisor does not relay ${parsed.type} messages to the execution thread: ${quote(message)}`);
  }
}

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
