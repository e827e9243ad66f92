/** One frame of an outgoing multipart message (zeromq.js sends strings as UTF-8). */
export type OutgoingFrame = Buffer | string;

/** What a {@link SerialSender} needs from a socket. */
export interface SendableSocket {
  send(frames: OutgoingFrame[]): Promise<void>;
}

/**
 * A message to send: its frames, or a function that encodes them when the message's turn comes.
 * Encoding late (JSON and HMAC of the busy status and execute_input of a cell) lets the handler
 * hand the cell to the cell worker first; whatever a late encoder reads must not change after
 * the message is queued.
 */
export type OutgoingMessage = OutgoingFrame[] | (() => OutgoingFrame[]);

/** Default bound on messages waiting for their turn on one socket. */
export const DEFAULT_MAX_QUEUED_SENDS = 100_000;

/**
 * Sends multipart messages on one socket strictly one after another. zeromq.js refuses a second send
 * while one is pending (EBUSY); un-awaited sends are how tslab loses idle statuses. Here every send
 * is awaited by a single drain loop, in the order messages were queued. Publisher and Router sockets
 * drop at their high-water mark instead of blocking, so the queue drains quickly; it is still bounded,
 * and a message over the bound is dropped with a log line rather than growing memory without limit.
 *
 * @example
 * const sender = new SerialSender(publisher, "iopub", log);
 * sender.enqueue(frames);
 * await sender.close();
 */
export class SerialSender {
  readonly #socket: SendableSocket;
  readonly #name: string;
  readonly #log: (line: string) => void;
  readonly #maxQueued: number;
  #queue: OutgoingMessage[] = [];
  #head = 0;
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(socket: SendableSocket, name: string, log: (line: string) => void, maxQueued = DEFAULT_MAX_QUEUED_SENDS) {
    this.#socket = socket;
    this.#name = name;
    this.#log = log;
    this.#maxQueued = maxQueued;
  }

  /** Messages queued and not yet handed to the socket. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Queues a message; it is sent (and, if a function, encoded) after every message queued before it. */
  enqueue(message: OutgoingMessage): void {
    if (this.#closed) {
      this.#log(`${this.#name}: dropped a message queued after close`);
      return;
    }
    if (this.pending >= this.#maxQueued) {
      this.#log(`${this.#name}: dropped a message, ${this.pending} already waiting to be sent`);
      return;
    }
    this.#queue.push(message);
    this.#draining ??= this.#drain();
  }

  /** Resolves once everything queued so far has been handed to the socket. */
  async flush(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
  }

  /** Stops accepting messages and waits for the queued ones to be sent. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  async #drain(): Promise<void> {
    // Sending starts on the next microtask, not inside enqueue(): a handler that queues messages
    // and then hands work to another thread (a cell to the cell worker) hands it over first, and
    // the sends (~20-40 µs each, native) overlap with that work instead of delaying it.
    await Promise.resolve();
    try {
      while (this.#head < this.#queue.length) {
        const message = this.#queue[this.#head] as OutgoingMessage;
        this.#head += 1;
        try {
          await this.#socket.send(typeof message === "function" ? message() : message);
        } catch (error) {
          this.#log(`${this.#name}: send failed: ${(error as Error).message}`);
        }
        // Compact now and then so the array does not keep sent messages alive.
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
      }
      this.#queue = [];
      this.#head = 0;
    } finally {
      this.#draining = undefined;
    }
  }
}
