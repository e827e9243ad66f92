/**
 * What JupyterLab and the kernel say to each other, read off the page's kernel websockets by
 * playwright (`page.on("websocket")`), outside the page: nothing in JupyterLab is patched or
 * replaced. JupyterLab 4 negotiates the `v1.kernel.websocket.jupyter.org` protocol with this server
 * (binary frames: a count n, n little-endian uint64 offsets, then channel, header, parent header,
 * metadata, content and buffers between them); a server without it sends JSON text frames, which
 * are read too. Only what the tests look at is kept: direction, channel, type, parent id, content.
 */
import type { Page, WebSocket } from "playwright-core";
import { figureStreamTarget } from "../../lib/plots/figure-stream.js";

/** One Jupyter message on a kernel websocket. */
export interface KernelFrame {
  direction: "sent" | "received";
  /** The websocket's `session_id` (one per kernel connection of the page). */
  connection: string;
  channel: string;
  msgType: string;
  msgId: string;
  parentMsgId: string | undefined;
  content: Record<string, unknown>;
  /** When the page sent or received it (`performance.now()` of the test process). */
  atMs: number;
}

/** Parses one frame's payload; throws on anything that is not a Jupyter message. */
export function parseKernelFrame(payload: string | Buffer, direction: KernelFrame["direction"], connection: string): KernelFrame {
  const parts = typeof payload === "string" ? textParts(payload) : binaryParts(payload);
  const header = asRecord(parts.header, "header");
  const parent = asRecord(parts.parentHeader, "parent_header");
  const msgType = header["msg_type"];
  const msgId = header["msg_id"];
  if (typeof msgType !== "string" || typeof msgId !== "string") throw new Error(`a kernel frame without msg_type/msg_id: ${JSON.stringify(header).slice(0, 200)}`);
  const parentMsgId = parent["msg_id"];
  return { direction, connection, channel: parts.channel, msgType, msgId, parentMsgId: typeof parentMsgId === "string" ? parentMsgId : undefined, content: asRecord(parts.content, "content"), atMs: performance.now() };
}

function textParts(text: string): { channel: string; header: unknown; parentHeader: unknown; content: unknown } {
  const message = asRecord(JSON.parse(text), "message");
  const channel = message["channel"];
  if (typeof channel !== "string") throw new Error(`a JSON kernel frame without a channel: ${text.slice(0, 200)}`);
  return { channel, header: message["header"], parentHeader: message["parent_header"], content: message["content"] };
}

function binaryParts(data: Buffer): { channel: string; header: unknown; parentHeader: unknown; content: unknown } {
  if (data.length < 8) throw new Error(`a binary kernel frame of ${data.length} bytes`);
  const count = Number(data.readBigUInt64LE(0));
  if (count < 5 || 8 * (count + 1) > data.length) throw new Error(`a binary kernel frame of ${data.length} bytes claims ${count} offsets`);
  const offsets = Array.from({ length: count }, (_, i) => Number(data.readBigUInt64LE(8 * (i + 1))));
  const part = (index: number): string => {
    const start = offsets[index]!;
    const end = offsets[index + 1] ?? data.length;
    if (start > end || end > data.length) throw new Error(`a binary kernel frame's part ${index} runs from ${start} to ${end} of ${data.length} bytes`);
    return data.subarray(start, end).toString("utf8");
  };
  return { channel: part(0), header: JSON.parse(part(1)), parentHeader: JSON.parse(part(2)), content: JSON.parse(part(4)) };
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`a kernel frame's ${what} is not an object: ${JSON.stringify(value)?.slice(0, 200)}`);
  return value as Record<string, unknown>;
}

/** Every message on the kernel websockets a page opens, from the moment it is attached. */
export class KernelTraffic {
  readonly #frames: KernelFrame[] = [];
  readonly #listeners = new Set<() => void>();
  /** Frames that did not parse: a test fails on any (they would be a protocol mix-up). */
  readonly unreadable: string[] = [];

  constructor(page: Page) {
    page.on("websocket", (socket) => this.#follow(socket));
  }

  #follow(socket: WebSocket): void {
    const url = new URL(socket.url());
    if (!/^\/api\/kernels\/[^/]+\/channels$/.test(url.pathname)) return;
    const connection = url.searchParams.get("session_id") ?? "?";
    const record = (payload: string | Buffer, direction: KernelFrame["direction"]): void => {
      try {
        this.#frames.push(parseKernelFrame(payload, direction, connection));
        for (const listener of this.#listeners) listener();
      } catch (error) {
        this.unreadable.push(error instanceof Error ? error.message : String(error));
      }
    };
    socket.on("framesent", (frame) => record(frame.payload, "sent"));
    socket.on("framereceived", (frame) => record(frame.payload, "received"));
  }

  /** The messages so far (a copy). */
  get frames(): KernelFrame[] {
    return [...this.#frames];
  }

  /**
   * Resolves once `condition` holds (checked now and after every message); rejects after
   * `timeoutMs` with `describe()`'s account of what was seen.
   */
  async waitFor(condition: () => boolean, options: { timeoutMs: number; describe: () => string }): Promise<void> {
    let listener: () => void = () => {};
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        listener = () => {
          if (condition()) resolve();
        };
        timer = setTimeout(() => reject(new Error(`not seen on the kernel websockets within ${options.timeoutMs} ms: ${options.describe()}`)), options.timeoutMs);
        this.#listeners.add(listener);
        listener();
      });
    } finally {
      clearTimeout(timer);
      this.#listeners.delete(listener);
    }
  }

  /** How many messages so far: a mark to count from. */
  get mark(): number {
    return this.#frames.length;
  }

  /**
   * The figure stream comms the page opened (comm_open to `ringbook.plotly`, sent) at message
   * `openedSince` or later, in order: whether each was closed by a comm_close (a kernel restart
   * drops comms without one), and how many comm_msg (deltas) the kernel sent on it at message
   * `deltasSince` or later.
   */
  figureStreamComms(options: { openedSince?: number; deltasSince?: number } = {}): Array<{ commId: string; closed: boolean; deltas: number }> {
    const { openedSince = 0, deltasSince = 0 } = options;
    const comms = new Map<string, { commId: string; closed: boolean; deltas: number }>();
    this.#frames.forEach((frame, index) => {
      const commId = frame.content["comm_id"];
      if (typeof commId !== "string") return;
      if (frame.msgType === "comm_open" && frame.direction === "sent" && frame.content["target_name"] === figureStreamTarget && index >= openedSince) {
        comms.set(commId, { commId, closed: false, deltas: 0 });
      }
      const comm = comms.get(commId);
      if (comm === undefined) return;
      if (frame.msgType === "comm_close") comm.closed = true;
      if (frame.msgType === "comm_msg" && frame.direction === "received" && index >= deltasSince) comm.deltas += 1;
    });
    return [...comms.values()];
  }

  /** Deltas (comm_msg from the kernel) on the figure stream comms opened since `openedSince`, received since `deltasSince`. */
  deltas(options: { openedSince?: number; deltasSince?: number } = {}): number {
    return this.figureStreamComms(options).reduce((sum, comm) => sum + comm.deltas, 0);
  }

  /** Whole Plotly figures the kernel sent (display_data and update_display_data) since `from`. */
  wholeFigures(from = 0): number {
    return this.#frames.slice(from).filter((frame) => (frame.msgType === "display_data" || frame.msgType === "update_display_data") && hasPlotly(frame.content)).length;
  }
}

function hasPlotly(content: Record<string, unknown>): boolean {
  const data = content["data"];
  return typeof data === "object" && data !== null && "application/vnd.plotly.v1+json" in data;
}
