/**
 * Jupyter messaging protocol 5.3 wire types. Spec names (snake_case) live only here and in the
 * validators; the rest of the kernel speaks camelCase.
 */
import type { JsonObject } from "./json-guards.js";

/** The protocol version this kernel speaks, sent in every header. */
export const PROTOCOL_VERSION = "5.3";

/** The delimiter frame between routing ids and the signed parts. */
export const DELIMITER = "<IDS|MSG>";

export interface MessageHeader {
  msg_id: string;
  session: string;
  username: string;
  /** ISO 8601 timestamp. */
  date: string;
  msg_type: string;
  version: string;
}

/** A parent header is a full header, or `{}` for messages with no parent. */
export type ParentHeader = MessageHeader | Record<string, never>;

/** One decoded message: header, parent, metadata and content are JSON objects; buffers stay raw. */
export interface WireMessage<Content extends object = JsonObject> {
  header: MessageHeader;
  parent_header: ParentHeader;
  metadata: JsonObject;
  content: Content;
  buffers: Buffer[];
}

// ---- request contents (front end → kernel) ----

export interface ExecuteRequestContent {
  code: string;
  silent: boolean;
  store_history: boolean;
  user_expressions: Record<string, string>;
  allow_stdin: boolean;
  stop_on_error: boolean;
}

export interface CompleteRequestContent {
  code: string;
  cursor_pos: number;
}

export interface InspectRequestContent {
  code: string;
  cursor_pos: number;
  detail_level: 0 | 1;
}

export interface IsCompleteRequestContent {
  code: string;
}

interface HistoryCommon {
  output: boolean;
  raw: boolean;
}

export type HistoryRequestContent =
  | (HistoryCommon & { hist_access_type: "tail"; n: number })
  | (HistoryCommon & { hist_access_type: "range"; session: number; start: number; stop: number | null })
  | (HistoryCommon & { hist_access_type: "search"; pattern: string; n: number | null; unique: boolean });

export interface CommInfoRequestContent {
  target_name?: string;
}

export interface CommOpenContent {
  comm_id: string;
  target_name: string;
  data: JsonObject;
}

export interface CommMsgContent {
  comm_id: string;
  data: JsonObject;
}

export type CommCloseContent = CommMsgContent;

export interface InputReplyContent {
  value: string;
}

export interface ShutdownRequestContent {
  restart: boolean;
}

export type EmptyContent = Record<string, never>;

/** msg_type → validated content of every message the kernel accepts. */
export interface RequestContents {
  kernel_info_request: EmptyContent;
  execute_request: ExecuteRequestContent;
  complete_request: CompleteRequestContent;
  inspect_request: InspectRequestContent;
  is_complete_request: IsCompleteRequestContent;
  history_request: HistoryRequestContent;
  comm_info_request: CommInfoRequestContent;
  comm_open: CommOpenContent;
  comm_msg: CommMsgContent;
  comm_close: CommCloseContent;
  input_reply: InputReplyContent;
  shutdown_request: ShutdownRequestContent;
  interrupt_request: EmptyContent;
}

export type RequestType = keyof RequestContents;

/** A request with validated content, discriminated on `msg_type`. */
export type KernelRequest = {
  [K in RequestType]: { msg_type: K; content: RequestContents[K] };
}[RequestType];

// ---- contents the kernel sends ----

export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

export type ReplyStatus<Ok extends JsonObject> = ({ status: "ok" } & Ok) | ({ status: "error" } & ErrorContent);

export interface LanguageInfo {
  name: string;
  version: string;
  mimetype: string;
  file_extension: string;
  codemirror_mode: string;
  pygments_lexer: string;
}

export type UserExpressionContent =
  | { status: "ok"; data: JsonObject; metadata: JsonObject }
  | ({ status: "error" } & ErrorContent);

export type ExecuteReplyContent =
  | { status: "ok"; execution_count: number; payload: JsonObject[]; user_expressions: Record<string, UserExpressionContent> }
  | ({ status: "error"; execution_count: number; user_expressions: Record<string, never>; payload: JsonObject[] } & ErrorContent)
  | { status: "aborted"; execution_count: number };

/** A history entry: [session, line, input] or, with output, [session, line, [input, output]]. */
export type HistoryEntry = [number, number, string] | [number, number, [string, string | null]];

/**
 * msg_type → content of every reply to a request. A reply goes back on the channel its request came
 * from, shell or control: the spec lets any request arrive on control (ipykernel answers them
 * there), so both channels share this table.
 */
export interface ReplyContents {
  kernel_info_reply: {
    status: "ok";
    protocol_version: string;
    implementation: string;
    implementation_version: string;
    language_info: LanguageInfo;
    banner: string;
    help_links: Array<{ text: string; url: string }>;
    debugger: boolean;
  };
  execute_reply: ExecuteReplyContent;
  complete_reply: ReplyStatus<{ matches: string[]; cursor_start: number; cursor_end: number; metadata: JsonObject }>;
  inspect_reply: ReplyStatus<{ found: boolean; data: JsonObject; metadata: JsonObject }>;
  is_complete_reply: { status: "complete" | "invalid" | "unknown" } | { status: "incomplete"; indent: string };
  history_reply: ReplyStatus<{ history: HistoryEntry[] }>;
  comm_info_reply: ReplyStatus<{ comms: Record<string, { target_name: string }> }>;
  shutdown_reply: ReplyStatus<{ restart: boolean }>;
  interrupt_reply: ReplyStatus<Record<never, never>>;
  /** Reply to a request type this kernel does not know: always an error. */
  unknown_reply: { status: "error" } & ErrorContent;
}

export type ReplyType = keyof ReplyContents;

/** The channels a reply may go back on. */
export type ReplyChannel = "shell" | "control";

/** msg_type → content of every message the kernel publishes on iopub. */
export interface IopubContents {
  status: { execution_state: "busy" | "idle" | "starting" };
  execute_input: { code: string; execution_count: number };
  execute_result: { execution_count: number; data: JsonObject; metadata: JsonObject };
  display_data: { data: JsonObject; metadata: JsonObject; transient: JsonObject };
  update_display_data: { data: JsonObject; metadata: JsonObject; transient: JsonObject };
  clear_output: { wait: boolean };
  stream: { name: "stdout" | "stderr"; text: string };
  error: ErrorContent;
  comm_open: { comm_id: string; target_name: string; data: JsonObject };
  comm_msg: { comm_id: string; data: JsonObject };
  comm_close: { comm_id: string; data: JsonObject };
  /** Broadcast as well as replied, as ipykernel does, so that every client sees the kernel go. */
  shutdown_reply: ReplyContents["shutdown_reply"];
}

export type IopubType = keyof IopubContents;

/** msg_type → content of every message the kernel sends on stdin. */
export interface StdinContents {
  input_request: { prompt: string; password: boolean };
}

export type StdinType = keyof StdinContents;

/** The msg_type of any message the kernel sends, whatever its channel. */
export type OutgoingType = ReplyType | IopubType | StdinType;
