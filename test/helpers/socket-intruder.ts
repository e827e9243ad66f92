/**
 * A DEALER of the test process posing as a member of a cluster: connects with whatever security
 * options it is given and records its connection events, so a test can wait for the outcome of its
 * handshakes (event counts, never a sleep) and check that none succeeded.
 */
import * as zmq from "zeromq";

/** How a handshake attempt ended, from the connecting side. */
export type HandshakeOutcome = "handshake" | "handshake:error:protocol" | "handshake:error:auth" | "handshake:error:other";

function isHandshakeOutcome(type: string): type is HandshakeOutcome {
  return type === "handshake" || type.startsWith("handshake:error:");
}

export class SocketIntruder {
  readonly name: string;
  readonly dealer: zmq.Dealer;
  /** Every event type seen, in order. */
  readonly events: string[] = [];
  readonly #observer: zmq.Observer;
  readonly #watching: Promise<void>;
  readonly #waiters = new Set<() => void>();

  constructor(name: string, options: Partial<zmq.SocketOptions<zmq.Dealer>>) {
    this.name = name;
    this.dealer = new zmq.Dealer({ linger: 0, receiveTimeout: 0, ...options });
    // Held, not read again from `dealer.events`: after the socket closed, that getter throws.
    const observer = this.dealer.events;
    this.#observer = observer;
    this.#watching = this.#watch(observer);
  }

  /** Handshake outcomes so far. */
  get outcomes(): HandshakeOutcome[] {
    return this.events.filter(isHandshakeOutcome);
  }

  /**
   * Connects to `endpoint` and, if given, queues `frames` for it (a DEALER attaches its pipe at
   * connect, so the send does not wait for the handshake; sent before any connect, it would wait
   * forever).
   */
  async connect(endpoint: string, frames?: Array<string | Buffer>): Promise<void> {
    this.dealer.connect(endpoint);
    if (frames !== undefined) await this.dealer.send(frames);
  }

  /** Resolves once `count` handshake attempts have ended (either way). */
  async handshakes(count: number, signal: AbortSignal): Promise<HandshakeOutcome[]> {
    while (this.outcomes.length < count) await this.#nextEvent(signal);
    return this.outcomes;
  }

  /** Resolves at the next event, or rejects when `signal` aborts (naming what was seen). */
  #nextEvent(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(wake);
        reject(new Error(`${this.name}: ${String(signal.reason)}; events so far: ${this.events.join(", ") || "none"}`));
      };
      const wake = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      if (signal.aborted) return onAbort();
      this.#waiters.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  async #watch(observer: zmq.Observer): Promise<void> {
    try {
      for await (const event of observer) {
        this.events.push(event.type);
        for (const wake of [...this.#waiters]) wake();
        this.#waiters.clear();
      }
    } catch (error) {
      // Closing the observer settles its pending receive, sometimes as ENOTSOCK.
      if (!observer.closed) throw error;
    }
  }

  async close(): Promise<void> {
    await closeMonitored(this.dealer, this.#observer, this.#watching);
  }
}

/** How long a closed socket's monitor gets to deliver its "end" event before its observer is closed. */
const monitorEndGraceMs = 5000;

/**
 * Closes a socket whose events `watching` reads from `observer`: the socket first, then the wait
 * for its monitor to stop (the observer closes itself at the "end" event). Closing the observer
 * first let libzmq's I/O thread block for good on the events of the socket's teardown (a blocking
 * send to a monitor nobody reads), and with it every tcp connection of the process: a cluster
 * launched next never finished a handshake. An "end" that never wakes the observer's receive
 * (seen once) is given a few seconds, after which the monitor is gone and the observer is closed.
 */
export async function closeMonitored(socket: zmq.Socket, observer: zmq.Observer, watching: Promise<void>): Promise<void> {
  socket.close();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([watching, new Promise<void>((resolve) => (timer = setTimeout(resolve, monitorEndGraceMs)))]);
  clearTimeout(timer);
  if (!observer.closed) observer.close();
  await watching;
}
