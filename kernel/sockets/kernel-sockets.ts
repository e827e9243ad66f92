import * as zmq from "zeromq";
import { channelEndpoint, type ConnectionInfo } from "../protocol/connection-info.js";
import { ReceiveLoop } from "./receive-loop.js";
import { SerialSender, type OutgoingMessage } from "./serial-sender.js";

/** Channels the kernel sends on. */
export type SendChannel = "shell" | "control" | "stdin" | "iopub";

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
 * serialized sender and one owned receive loop; `close()` flushes, closes and awaits them all.
 */
export class KernelSockets {
  readonly #senders: Record<SendChannel, SerialSender>;
  readonly #loops: ReceiveLoop[];
  readonly #sockets: zmq.Socket[];
  #closing: Promise<void> | undefined;

  private constructor(senders: Record<SendChannel, SerialSender>, loops: ReceiveLoop[], sockets: zmq.Socket[]) {
    this.#senders = senders;
    this.#loops = loops;
    this.#sockets = sockets;
  }

  /**
   * Binds all channels and starts receiving. A failed bind closes what was opened, then rethrows.
   *
   * @example
   * const sockets = await KernelSockets.bind(info, { shell, control, stdin }, log);
   */
  static async bind(info: ConnectionInfo, handlers: ChannelHandlers, log: (line: string) => void): Promise<KernelSockets> {
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
    const senders = {
      shell: new SerialSender(shell, "shell", log),
      control: new SerialSender(control, "control", log),
      stdin: new SerialSender(stdin, "stdin", log),
      iopub: new SerialSender(iopub, "iopub", log),
    };
    const loops = [
      new ReceiveLoop(shell, "shell", (frames) => handlers.shell(frames), log),
      new ReceiveLoop(control, "control", (frames) => handlers.control(frames), log),
      new ReceiveLoop(stdin, "stdin", (frames) => handlers.stdin(frames), log),
      // The heartbeat echoes each ping; the REP socket itself enforces one reply per request.
      new ReceiveLoop(heartbeat, "hb", (frames) => heartbeat.send(frames), log),
    ];
    return new KernelSockets(senders, loops, sockets);
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
