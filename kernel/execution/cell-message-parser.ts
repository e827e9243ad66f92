/**
 * Readers for what the cell thread sends the executor: a cell's events, its outcome, and the answer
 * to a call. Each gives the typed value, or `undefined` when the value does not have the shape
 * (the caller reports the whole message), so no part of a message is cast.
 */
import type { CellEvent, CommTarget, ExecuteOutcome, UserExpressionResult } from "./executor.js";
import { isJsonObject, type JsonObject } from "../../lib/json-guards.js";

/** The answer to a call (a `WorkerCall` of worker-protocol.ts), as the cell thread sends it. */
export type CallReply = { ok: true; value: boolean | CommTarget[] | null } | { ok: false; message: string };

function strings(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const items: string[] = [];
  for (const item of value) {
    if (typeof item !== "string") return undefined;
    items.push(item);
  }
  return items;
}

/** `{ ename, evalue, traceback }` of an error, or undefined. */
function errorFields(value: JsonObject): { ename: string; evalue: string; traceback: string[] } | undefined {
  const { ename, evalue } = value;
  const traceback = strings(value["traceback"]);
  if (typeof ename !== "string" || typeof evalue !== "string" || traceback === undefined) return undefined;
  return { ename, evalue, traceback };
}

/** A {@link CellEvent}, or undefined. */
export function parseCellEvent(value: unknown): CellEvent | undefined {
  if (!isJsonObject(value)) return undefined;
  const kind = value["kind"];
  switch (kind) {
    case "stream": {
      const { name, text } = value;
      return (name === "stdout" || name === "stderr") && typeof text === "string" ? { kind, name, text } : undefined;
    }
    case "display": {
      const { data, metadata, displayId, update } = value;
      if (!isJsonObject(data) || !isJsonObject(metadata) || typeof update !== "boolean") return undefined;
      if (displayId === undefined) return { kind, data, metadata, update };
      return typeof displayId === "string" ? { kind, data, metadata, displayId, update } : undefined;
    }
    case "clearOutput":
      return typeof value["wait"] === "boolean" ? { kind, wait: value["wait"] } : undefined;
    case "inputRequest": {
      const { requestId, prompt, password } = value;
      return typeof requestId === "string" && typeof prompt === "string" && typeof password === "boolean" ? { kind, requestId, prompt, password } : undefined;
    }
    case "commOpen":
    case "commMsg":
    case "commClose": {
      const { commId, targetName, data, metadata } = value;
      if (typeof commId !== "string" || !isJsonObject(data) || !isJsonObject(metadata)) return undefined;
      if (kind !== "commOpen") return { kind, commId, data, metadata };
      return typeof targetName === "string" ? { kind, commId, targetName, data, metadata } : undefined;
    }
    case "lateError": {
      const fields = errorFields(value);
      return fields === undefined ? undefined : { kind, ...fields };
    }
    default:
      return undefined;
  }
}

function parseUserExpressionResult(value: unknown): UserExpressionResult | undefined {
  if (!isJsonObject(value)) return undefined;
  if (value["status"] === "ok") {
    const { data, metadata } = value;
    return isJsonObject(data) && isJsonObject(metadata) ? { status: "ok", data, metadata } : undefined;
  }
  if (value["status"] !== "error") return undefined;
  const fields = errorFields(value);
  return fields === undefined ? undefined : { status: "error", ...fields };
}

/** An {@link ExecuteOutcome}, or undefined. */
export function parseExecuteOutcome(value: unknown): ExecuteOutcome | undefined {
  if (!isJsonObject(value)) return undefined;
  switch (value["status"]) {
    case "ok": {
      const { result, userExpressions } = value;
      if (!isJsonObject(userExpressions)) return undefined;
      const expressions: Record<string, UserExpressionResult> = {};
      for (const [name, entry] of Object.entries(userExpressions)) {
        const parsed = parseUserExpressionResult(entry);
        if (parsed === undefined) return undefined;
        // defineProperty: a name such as "__proto__" stays a name.
        Object.defineProperty(expressions, name, { value: parsed, enumerable: true, writable: true, configurable: true });
      }
      if (result === undefined) return { status: "ok", userExpressions: expressions };
      if (!isJsonObject(result) || !isJsonObject(result["data"]) || !isJsonObject(result["metadata"])) return undefined;
      return { status: "ok", result: { data: result["data"], metadata: result["metadata"] }, userExpressions: expressions };
    }
    case "error": {
      const fields = errorFields(value);
      return fields === undefined ? undefined : { status: "error", ...fields };
    }
    case "interrupted":
      return { status: "interrupted" };
    case "restarted":
      return typeof value["reason"] === "string" ? { status: "restarted", reason: value["reason"] } : undefined;
    default:
      return undefined;
  }
}

function parseCommTargets(value: unknown): CommTarget[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const targets: CommTarget[] = [];
  for (const entry of value) {
    if (!isJsonObject(entry) || typeof entry["commId"] !== "string" || typeof entry["targetName"] !== "string") return undefined;
    targets.push({ commId: entry["commId"], targetName: entry["targetName"] });
  }
  return targets;
}

/** A {@link CallReply} from a reply message's fields, or undefined. */
export function parseCallReply(message: JsonObject): CallReply | undefined {
  if (message["ok"] === false) return typeof message["message"] === "string" ? { ok: false, message: message["message"] } : undefined;
  if (message["ok"] !== true) return undefined;
  const value = message["value"];
  if (typeof value === "boolean" || value === null) return { ok: true, value };
  const targets = parseCommTargets(value);
  return targets === undefined ? undefined : { ok: true, value: targets };
}
