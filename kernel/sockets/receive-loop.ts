/** What a {@link ReceiveLoop} needs from a socket: zeromq.js sockets are async iterables. */
export interface ReceivableSocket extends AsyncIterable<Buffer[]> {
  close(): void;
  readonly closed: boolean;
}

/**
 * Owns the `for await` over one socket: each message is handed to `handle`, which is awaited before
 * the next is read (so a slow handler applies backpressure through ZeroMQ's queues). A throwing
 * handler is logged and the loop goes on. `close()` closes the socket, which ends the iteration,
 * and waits for the loop.
 */
export class ReceiveLoop {
  readonly #socket: ReceivableSocket;
  readonly #done: Promise<void>;

  constructor(socket: ReceivableSocket, name: string, handle: (frames: Buffer[]) => void | Promise<void>, log: (line: string) => void) {
    this.#socket = socket;
    this.#done = (async () => {
      try {
        for await (const frames of socket) {
          try {
            await handle(frames);
          } catch (error) {
            log(`${name}: handler failed: ${(error as Error).stack ?? String(error)}`);
          }
        }
      } catch (error) {
        if (!socket.closed) log(`${name}: receive failed, channel stopped: ${(error as Error).message}`);
      }
    })();
  }

  /** Resolves when the loop has ended. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Closes the socket and waits for the loop to end. Idempotent. */
  async close(): Promise<void> {
    if (!this.#socket.closed) this.#socket.close();
    await this.#done;
  }
}
