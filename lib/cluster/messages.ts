/**
 * The versioned schema of the control messages between a cluster's owner (the notebook or script
 * that launched it) and its worker processes. On the wire a message is signed frames (see
 * transport/signed-frames): a JSON header described here, then at most one payload frame with
 * structured-clone data (`v8.serialize`). Every header is parsed on receipt; a message that does
 * not parse is dropped, logged and, when the sender can be told, answered with `rejected`.
 */
import { RingbookError } from "../errors.js";
import { isRank, type Rank } from "../ids.js";
import { isJsonObject, quote, type JsonObject } from "../json-guards.js";

/** Bumped on any incompatible change; a message of another version is rejected with both versions named. */
export const clusterProtocolVersion = 1;

/** What a worker runs. Functions travel as source text, compiled on the worker. */
export type TaskSpec =
  | { kind: "function"; source: string }
  | { kind: "cell"; code: string; name: string }
  | { kind: "train" }
  | { kind: "exportModel" }
  | { kind: "evaluate" };

/** Owner → worker. */
export type ToWorker =
  | { type: "task"; taskId: string; task: TaskSpec }
  | { type: "interrupt"; taskId: string | null }
  | { type: "stopTraining"; taskId: string }
  /** `hosts[r]`: the host rank r runs on; ranks of one host link over ipc (when the transport is tcp) and reduce together. */
  | { type: "mesh"; generation: number; worldSize: number; bindAddress: string; hosts: string[] }
  | { type: "peers"; generation: number; endpoints: string[] }
  | { type: "peerDied"; generation: number; rank: Rank; reason: string }
  | { type: "ping"; seq: number }
  | { type: "shutdown" };

/** An error as it travels from a worker. */
export interface RemoteErrorInfo {
  name: string;
  message: string;
  stack: string;
  code?: string;
}

/** Worker → owner. */
export type FromWorker =
  /** `slurmStep`: "job.step" from the worker's SLURM_JOB_ID and SLURM_STEP_ID, null outside Slurm. */
  | { type: "hello"; pid: number; host: string; slurmStep: string | null }
  | { type: "ready"; backend: string; backendSummary: string; device: string; tfjsVersion: string; startMs: number; notes: string[] }
  | { type: "startFailed"; error: RemoteErrorInfo }
  /** `localEndpoint`: the ipc endpoint for the ranks of the same host, when it bound one. */
  | { type: "meshBound"; generation: number; endpoint: string; localEndpoint: string | null }
  | { type: "peersReady"; generation: number }
  | { type: "meshFailed"; generation: number; error: RemoteErrorInfo }
  | { type: "output"; taskId: string | null; stream: "stdout" | "stderr"; text: string }
  | { type: "result"; taskId: string; status: "ok"; hasValue: boolean }
  | { type: "result"; taskId: string; status: "error"; error: RemoteErrorInfo }
  | { type: "result"; taskId: string; status: "interrupted" }
  | { type: "event"; taskId: string }
  | { type: "pong"; seq: number; busy: boolean }
  | { type: "rejected"; reason: string };

/** Who sent a worker message; checked against the connection it arrived on. */
export interface WorkerIdentity {
  rank: Rank;
  incarnation: number;
}

/** A header as sent: the message plus version and, from workers, the sender's identity. */
export type ToWorkerHeader = ToWorker & { v: number };
export type FromWorkerHeader = FromWorker & { v: number } & WorkerIdentity;

/** A message that is not valid under this schema. */
export class ClusterMessageError extends RingbookError {
  constructor(message: string) {
    super("ERR_CLUSTER_MESSAGE", message);
  }
}

function fail(what: string, value: unknown): never {
  throw new ClusterMessageError(`${what}, got ${quote(value)}`);
}

function str(object: JsonObject, key: string): string {
  const value = object[key];
  if (typeof value !== "string") fail(`field ${key} must be a string`, value);
  return value;
}

function rank(object: JsonObject, key: string): Rank {
  const value = object[key];
  if (!isRank(value)) fail(`field ${key} must be an integer >= 0`, value);
  return value;
}

function nullableStr(object: JsonObject, key: string): string | null {
  const value = object[key];
  if (value === null) return null;
  return str(object, key);
}

function int(object: JsonObject, key: string, min = 0): number {
  const value = object[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) fail(`field ${key} must be an integer >= ${min}`, value);
  return value;
}

function num(object: JsonObject, key: string): number {
  const value = object[key];
  if (typeof value !== "number" || !Number.isFinite(value)) fail(`field ${key} must be a finite number`, value);
  return value;
}

function bool(object: JsonObject, key: string): boolean {
  const value = object[key];
  if (typeof value !== "boolean") fail(`field ${key} must be a boolean`, value);
  return value;
}

function strings(object: JsonObject, key: string): string[] {
  const value = object[key];
  if (!Array.isArray(value)) fail(`field ${key} must be an array of strings`, value);
  return value.map((item: unknown) => (typeof item === "string" ? item : fail(`field ${key} must be an array of strings`, value)));
}

function header(text: Buffer | string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(typeof text === "string" ? text : text.toString("utf8"));
  } catch (error) {
    throw new ClusterMessageError(`header is not JSON: ${(error as Error).message}`);
  }
  if (!isJsonObject(value)) fail("header must be a JSON object", value);
  if (value["v"] !== clusterProtocolVersion) {
    fail(`protocol version mismatch: this side speaks version ${clusterProtocolVersion}`, value["v"]);
  }
  return value;
}

function parseErrorInfo(value: unknown): RemoteErrorInfo {
  if (!isJsonObject(value)) fail("error must be an object", value);
  const info: RemoteErrorInfo = { name: str(value, "name"), message: str(value, "message"), stack: str(value, "stack") };
  if (typeof value["code"] === "string") info.code = value["code"];
  return info;
}

function parseTask(value: unknown): TaskSpec {
  if (!isJsonObject(value)) fail("task must be an object", value);
  const kind = value["kind"];
  switch (kind) {
    case "function":
      return { kind, source: str(value, "source") };
    case "cell":
      return { kind, code: str(value, "code"), name: str(value, "name") };
    case "train":
      return { kind };
    case "exportModel":
      return { kind };
    case "evaluate":
      return { kind };
    default:
      return fail("unknown task kind", kind);
  }
}

/** Parses an owner → worker header. */
export function parseToWorker(text: Buffer | string): ToWorker {
  return parseToWorkerFields(header(text));
}

/**
 * Parses the fields of an owner → worker message (the header's, once its version is checked; or a
 * message the supervisor relays to its execution thread).
 */
export function parseToWorkerFields(value: JsonObject): ToWorker {
  const type = value["type"];
  switch (type) {
    case "task":
      return { type, taskId: str(value, "taskId"), task: parseTask(value["task"]) };
    case "interrupt":
      return { type, taskId: nullableStr(value, "taskId") };
    case "stopTraining":
      return { type, taskId: str(value, "taskId") };
    case "mesh":
    {
      const worldSize = int(value, "worldSize", 1);
      const hosts = strings(value, "hosts");
      if (hosts.length !== worldSize) fail(`field hosts must name a host for each of the ${worldSize} ranks`, hosts);
      return { type, generation: int(value, "generation"), worldSize, bindAddress: str(value, "bindAddress"), hosts };
    }
    case "peers":
      return { type, generation: int(value, "generation"), endpoints: strings(value, "endpoints") };
    case "peerDied":
      return { type, generation: int(value, "generation"), rank: rank(value, "rank"), reason: str(value, "reason") };
    case "ping":
      return { type, seq: int(value, "seq") };
    case "shutdown":
      return { type };
    default:
      return fail("unknown message type for a worker", type);
  }
}

/** Parses a worker → owner header, with the sender's identity. */
export function parseFromWorker(text: Buffer | string): FromWorker & WorkerIdentity {
  const value = header(text);
  const identity: WorkerIdentity = { rank: rank(value, "rank"), incarnation: int(value, "incarnation") };
  const type = value["type"];
  const message = ((): FromWorker => {
    switch (type) {
      case "hello":
        return { type, pid: int(value, "pid", 1), host: str(value, "host"), slurmStep: value["slurmStep"] === null || value["slurmStep"] === undefined ? null : str(value, "slurmStep") };
      case "ready":
        return {
          type,
          backend: str(value, "backend"),
          backendSummary: str(value, "backendSummary"),
          device: str(value, "device"),
          tfjsVersion: str(value, "tfjsVersion"),
          startMs: num(value, "startMs"),
          notes: strings(value, "notes"),
        };
      case "startFailed":
        return { type, error: parseErrorInfo(value["error"]) };
      case "meshBound":
        return { type, generation: int(value, "generation"), endpoint: str(value, "endpoint"), localEndpoint: nullableStr(value, "localEndpoint") };
      case "peersReady":
        return { type, generation: int(value, "generation") };
      case "meshFailed":
        return { type, generation: int(value, "generation"), error: parseErrorInfo(value["error"]) };
      case "output": {
        const stream = value["stream"];
        if (stream !== "stdout" && stream !== "stderr") fail("stream must be stdout or stderr", stream);
        return { type, taskId: nullableStr(value, "taskId"), stream, text: str(value, "text") };
      }
      case "result": {
        const taskId = str(value, "taskId");
        const status = value["status"];
        if (status === "ok") return { type, taskId, status, hasValue: bool(value, "hasValue") };
        if (status === "error") return { type, taskId, status, error: parseErrorInfo(value["error"]) };
        if (status === "interrupted") return { type, taskId, status };
        return fail("result status must be ok, error or interrupted", status);
      }
      case "event":
        return { type, taskId: str(value, "taskId") };
      case "pong":
        return { type, seq: int(value, "seq"), busy: bool(value, "busy") };
      case "rejected":
        return { type, reason: str(value, "reason") };
      default:
        return fail("unknown message type from a worker", type);
    }
  })();
  return { ...message, ...identity };
}

/** The header bytes of an owner → worker message. */
export function encodeToWorker(message: ToWorker): Buffer {
  return Buffer.from(JSON.stringify({ v: clusterProtocolVersion, ...message } satisfies ToWorkerHeader));
}

/** The header bytes of a worker → owner message. */
export function encodeFromWorker(message: FromWorker, identity: WorkerIdentity): Buffer {
  return Buffer.from(JSON.stringify({ v: clusterProtocolVersion, ...message, ...identity }));
}

/** The ZeroMQ routing id a worker connects with: rank and incarnation, so a restarted rank is a new peer. */
export function routingIdOf(identity: WorkerIdentity): string {
  return `w${identity.rank}.${identity.incarnation}`;
}
