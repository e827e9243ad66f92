import * as zmq from "zeromq";
import { RingbookError } from "../../lib/errors.js";
import { channelEndpoint, type ConnectionInfo } from "../protocol/connection-info.js";
import { ReceiveLoop } from "./receive-loop.js";
import { SerialSender, type OutgoingMessage } from "./serial-sender.js";

/** Channels the kernel sends on. */
export type SendChannel = "shell" | "control" | "stdin" | "iopub";

/** Channels the kernel receives requests on (the heartbeat only echoes). */
export type ReceiveChannel = "shell" | "control" | "stdin";

/** Receivers of raw frames; each is awaited before its channel reads the next message. */
export interface ChannelHandlers {
  shell(frames: Buffer[]): void | Promise<void>;
  control(frames: Buffer[]): void | Promise<void>;
  stdin(frames: Buffer[]): void | Promise<void>;
}

/** How long closing sockets may keep trying to deliver queued messages (the final replies). */
const LINGER_MS = 1000;

/** Messages iopub may hold for slow subscribers before ZeroMQ drops (zeromq's default is 1,000). */
const IOPUB_HIGH_WATER_MARK = 10_000;

/**
 * The five ZeroMQ sockets of a kernel bound to the connection file's endpoints: ROUTER for shell,
 * control and stdin, PUB for iopub, REP for the heartbeat (an echo loop). Every channel has one
 * serialized sender and, once {@link receive} started them, one owned receive loop; `close()`
 * flushes, closes and awaits them all.
 *
 * Binding and receiving are two steps so that the owner builds everything its handlers use in
 * between: a message waits in ZeroMQ's queue until there is a handler ready for it.
 */
export class KernelSockets {
  readonly #senders: Record<SendChannel, SerialSender>;
  readonly #receivers: Record<ReceiveChannel, zmq.Router>;
  readonly #heartbeat: zmq.Reply;
  readonly #sockets: zmq.Socket[];
  readonly #log: (line: string) => void;
  #loops: ReceiveLoop[] = [];
  #closing: Promise<void> | undefined;

  private constructor(receivers: Record<ReceiveChannel, zmq.Router>, iopub: zmq.Publisher, heartbeat: zmq.Reply, log: (line: string) => void) {
    this.#receivers = receivers;
    this.#heartbeat = heartbeat;
    this.#sockets = [receivers.shell, receivers.control, receivers.stdin, iopub, heartbeat];
    this.#log = log;
    this.#senders = {
      shell: new SerialSender(receivers.shell, "shell", log),
      control: new SerialSender(receivers.control, "control", log),
      stdin: new SerialSender(receivers.stdin, "stdin", log),
      iopub: new SerialSender(iopub, "iopub", log),
    };
  }

  /**
   * Binds all channels; nothing is read until {@link receive}. A failed bind closes what was
   * opened, then rethrows.
   *
   * @example
   * const sockets = await KernelSockets.bind(info, log);
   * sockets.receive({ shell, control, stdin });
   */
  static async bind(info: ConnectionInfo, log: (line: string) => void): Promise<KernelSockets> {
    // mandatory: a reply to a connected client that is not reading waits (backpressure through the
    // awaited send) instead of being dropped silently; one to a vanished client fails and is logged.
    const routerOptions = { linger: LINGER_MS, mandatory: true };
    const shell = new zmq.Router(routerOptions);
    const control = new zmq.Router(routerOptions);
    const stdin = new zmq.Router(routerOptions);
    // PUB never blocks, it drops at the high-water mark: leave room for bursts of output.
    const iopub = new zmq.Publisher({ linger: LINGER_MS, sendHighWaterMark: IOPUB_HIGH_WATER_MARK });
    const heartbeat = new zmq.Reply({ linger: LINGER_MS });
    const sockets: zmq.Socket[] = [shell, control, stdin, iopub, heartbeat];
    try {
      await Promise.all([
        shell.bind(channelEndpoint(info, "shell")),
        control.bind(channelEndpoint(info, "control")),
        stdin.bind(channelEndpoint(info, "stdin")),
        iopub.bind(channelEndpoint(info, "iopub")),
        heartbeat.bind(channelEndpoint(info, "hb")),
      ]);
    } catch (error) {
      for (const socket of sockets) socket.close();
      throw error;
    }
    return new KernelSockets({ shell, control, stdin }, iopub, heartbeat, log);
  }

  /**
   * Starts one receive loop per channel, each handing its messages to its handler one at a time,
   * and the heartbeat's echo loop. Called once; the loops are closed and awaited by `close()`.
   */
  receive(handlers: ChannelHandlers): void {
    if (this.#loops.length > 0) throw new RingbookError("ERR_SOCKETS_RECEIVING", "the kernel sockets are already receiving");
    if (this.#closing !== undefined) throw new RingbookError("ERR_SOCKETS_CLOSED", "the kernel sockets are closed; nothing can be received");
    const heartbeat = this.#heartbeat;
    this.#loops = [
      new ReceiveLoop(this.#receivers.shell, "shell", (frames) => handlers.shell(frames), this.#log),
      new ReceiveLoop(this.#receivers.control, "control", (frames) => handlers.control(frames), this.#log),
      new ReceiveLoop(this.#receivers.stdin, "stdin", (frames) => handlers.stdin(frames), this.#log),
      // The heartbeat echoes each ping; the REP socket itself enforces one reply per request.
      new ReceiveLoop(heartbeat, "hb", (frames) => heartbeat.send(frames), this.#log),
    ];
  }

  /** Queues a message on a channel; messages on one channel leave in the order queued. */
  send(channel: SendChannel, message: OutgoingMessage): void {
    this.#senders[channel].enqueue(message);
  }

  /** Resolves once everything queued on every channel has been handed to ZeroMQ. */
  async flush(): Promise<void> {
    await Promise.all(Object.values(this.#senders).map((sender) => sender.flush()));
  }

  /** Flushes queued messages, closes every socket and waits for the receive loops. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all(Object.values(this.#senders).map((sender) => sender.close()));
      await Promise.all(this.#loops.map((loop) => loop.close()));
      for (const socket of this.#sockets) if (!socket.closed) socket.close();
    })();
    return this.#closing;
  }
}
