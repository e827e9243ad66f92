import { isJsonObject, quote, type JsonObject } from "./json-guards.js";
import { ProtocolError } from "./protocol-error.js";
import type { HistoryRequestContent, KernelRequest, RequestContents, RequestType } from "./wire-types.js";

/**
 * Hand-written validators for the content of every request the kernel accepts. Optional fields get
 * the defaults the messaging spec gives; a present field of the wrong type is an error naming it.
 */
type Validators = { [K in RequestType]: (content: JsonObject) => RequestContents[K] };

class ContentReader {
  constructor(
    readonly msgType: string,
    readonly content: JsonObject,
  ) {}

  fail(field: string, expected: string, value: unknown): never {
    throw new ProtocolError("PROTOCOL_CONTENT", `${this.msgType}: ${field} must be ${expected}, got ${quote(value)}`);
  }

  string(field: string, fallback?: string): string {
    const value = this.content[field] ?? fallback;
    return typeof value === "string" ? value : this.fail(field, "a string", value);
  }

  boolean(field: string, fallback: boolean): boolean {
    const value = this.content[field] ?? fallback;
    return typeof value === "boolean" ? value : this.fail(field, "a boolean", value);
  }

  integer(field: string, fallback?: number): number {
    const value = this.content[field] ?? fallback;
    return typeof value === "number" && Number.isInteger(value) ? value : this.fail(field, "an integer", value);
  }

  optionalInteger(field: string): number | null {
    const value = this.content[field];
    return value === undefined || value === null ? null : this.integer(field);
  }

  object(field: string): JsonObject {
    const value = this.content[field] ?? {};
    return isJsonObject(value) ? value : this.fail(field, "an object", value);
  }
}

const empty = (): Record<string, never> => ({});

const validators: Validators = {
  kernel_info_request: empty,
  interrupt_request: empty,
  execute_request(content) {
    const read = new ContentReader("execute_request", content);
    const silent = read.boolean("silent", false);
    const expressions = read.object("user_expressions");
    const userExpressions: Record<string, string> = {};
    for (const [name, expression] of Object.entries(expressions)) {
      userExpressions[name] = typeof expression === "string" ? expression : read.fail(`user_expressions.${name}`, "a string", expression);
    }
    return {
      code: read.string("code"),
      silent,
      // The spec forces store_history off for silent requests.
      store_history: silent ? false : read.boolean("store_history", true),
      user_expressions: userExpressions,
      allow_stdin: read.boolean("allow_stdin", true),
      stop_on_error: read.boolean("stop_on_error", true),
    };
  },
  complete_request(content) {
    const read = new ContentReader("complete_request", content);
    const code = read.string("code");
    return { code, cursor_pos: cursorPosition(read, code) };
  },
  inspect_request(content) {
    const read = new ContentReader("inspect_request", content);
    const code = read.string("code");
    const detailLevel = read.integer("detail_level", 0);
    if (detailLevel !== 0 && detailLevel !== 1) read.fail("detail_level", "0 or 1", detailLevel);
    return { code, cursor_pos: cursorPosition(read, code), detail_level: detailLevel === 1 ? 1 : 0 };
  },
  is_complete_request(content) {
    return { code: new ContentReader("is_complete_request", content).string("code") };
  },
  history_request(content): HistoryRequestContent {
    const read = new ContentReader("history_request", content);
    const common = { output: read.boolean("output", false), raw: read.boolean("raw", true) };
    const accessType = read.string("hist_access_type");
    switch (accessType) {
      case "tail":
        return { ...common, hist_access_type: "tail", n: nonNegative(read, "n", read.integer("n", 10)) };
      case "range":
        return {
          ...common,
          hist_access_type: "range",
          session: read.integer("session", 0),
          start: read.integer("start", 1),
          stop: read.optionalInteger("stop"),
        };
      case "search": {
        const n = read.optionalInteger("n");
        return {
          ...common,
          hist_access_type: "search",
          pattern: read.string("pattern", "*"),
          n: n === null ? null : nonNegative(read, "n", n),
          unique: read.boolean("unique", false),
        };
      }
      default:
        return read.fail("hist_access_type", '"tail", "range" or "search"', accessType);
    }
  },
  comm_info_request(content) {
    const read = new ContentReader("comm_info_request", content);
    const targetName = content["target_name"];
    return targetName === undefined || targetName === null ? {} : { target_name: read.string("target_name") };
  },
  comm_open(content) {
    const read = new ContentReader("comm_open", content);
    return { comm_id: read.string("comm_id"), target_name: read.string("target_name"), data: read.object("data") };
  },
  comm_msg(content) {
    const read = new ContentReader("comm_msg", content);
    return { comm_id: read.string("comm_id"), data: read.object("data") };
  },
  comm_close(content) {
    const read = new ContentReader("comm_close", content);
    return { comm_id: read.string("comm_id"), data: read.object("data") };
  },
  input_reply(content) {
    return { value: new ContentReader("input_reply", content).string("value", "") };
  },
  shutdown_request(content) {
    return { restart: new ContentReader("shutdown_request", content).boolean("restart", false) };
  },
};

function cursorPosition(read: ContentReader, code: string): number {
  const raw = read.content["cursor_pos"];
  // Some clients send null to mean "end of code".
  const position = raw === undefined || raw === null ? code.length : read.integer("cursor_pos");
  if (position < 0) read.fail("cursor_pos", `between 0 and ${code.length}`, position);
  // JupyterLab's completer asks for the docs of an item at one past the end of the code; ipykernel
  // takes any position past the end as the end, and so does this kernel.
  if (position > code.length) return code.length;
  return position;
}

function nonNegative(read: ContentReader, field: string, value: number): number {
  return value >= 0 ? value : read.fail(field, "a non-negative integer", value);
}

/** True when the kernel knows how to handle `msgType`. */
export function isKnownRequestType(msgType: string): msgType is RequestType {
  return Object.hasOwn(validators, msgType);
}

/**
 * Validates `content` for a known `msgType`, giving a {@link KernelRequest} discriminated on
 * `msg_type`; returns undefined for unknown types and throws {@link ProtocolError} on bad content.
 *
 * @example
 * const request = parseRequest("execute_request", { code: "1+1" });
 * if (request?.msg_type === "execute_request") request.content.silent; // false
 */
export function parseRequest(msgType: string, content: JsonObject): KernelRequest | undefined {
  if (!isKnownRequestType(msgType)) return undefined;
  return validateKnown(msgType, content);
}

function validateKnown<K extends RequestType>(msgType: K, content: JsonObject): KernelRequest {
  const validate = validators[msgType] as (content: JsonObject) => RequestContents[K];
  // Sound: the content comes from the validator for exactly this msg_type.
  return { msg_type: msgType, content: validate(content) } as KernelRequest;
}
