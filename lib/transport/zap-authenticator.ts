/**
 * ZeroMQ's authentication hook (ZAP, rfc.zeromq.org/spec:27): every connection to a socket made
 * with {@link zapServerOptions} is accepted only if its PLAIN password is the one registered for
 * the socket's ZAP domain. The check happens once, at the handshake, so the data plane pays
 * nothing per message, and a peer without the password never gets a single message through.
 * libzmq allows one handler per context, and zeromq.js gives every thread of a process the same
 * context, so one thread of a process serves ZAP: the authenticator is shared by every cluster
 * and mesh in that thread and reference counted.
 *
 * zeromq.js runs `bind()` and `unbind()` on a libuv pool thread, while a pending receive keeps
 * polling the socket from the JavaScript thread; libzmq sockets are not thread-safe, so the
 * handler's socket is never unbound while its receive loop is waiting (see {@link #stopServing}).
 */
import { timingSafeEqual } from "node:crypto";
import * as zmq from "zeromq";
import { RingbookError } from "../errors.js";

const zapEndpoint = "inproc://zeromq.zap.01";
/** Routing id of the socket that wakes the receive loop to stop it (libzmq's generated ids start with a zero byte). */
const stopperId = "ringbook-zap-stopper";
const noop = (): void => {};

/** Socket options for a server socket checked by the authenticator under `domain`. */
export function zapServerOptions(domain: string): { plainServer: true; zapDomain: string; zapEnforceDomain: true } {
  return { plainServer: true, zapDomain: domain, zapEnforceDomain: true };
}

/** Socket options for a client socket connecting with `password`. */
export function zapClientOptions(password: string): { plainUsername: string; plainPassword: string } {
  return { plainUsername: "ringbook", plainPassword: password };
}

/** A registration: {@link ZapAuthenticator.release} it when its sockets are closed. */
export interface ZapRegistration {
  readonly domain: string;
  release(): Promise<void>;
}

/** The thread's ZAP handler. Use {@link ZapAuthenticator.register}; never construct one. */
export class ZapAuthenticator {
  static #shared: ZapAuthenticator | undefined;

  readonly #router: zmq.Router;
  readonly #loop: Promise<void>;
  readonly #passwords = new Map<string, Buffer>();
  readonly #onReject: (line: string) => void;
  #stopping = false;

  private constructor(router: zmq.Router, onReject: (line: string) => void) {
    this.#router = router;
    this.#onReject = onReject;
    this.#loop = this.#serve();
  }

  /**
   * Accepts connections to sockets of ZAP domain `domain` whose PLAIN password is `password`.
   * `onReject` gets a log line for each refused connection (the first registration's is kept).
   * Registrations and releases run one at a time, so that the handler is started and stopped once.
   */
  static register(domain: string, password: string, onReject: (line: string) => void = () => {}): Promise<ZapRegistration> {
    return ZapAuthenticator.#inTurn(async () => {
      const authenticator = (ZapAuthenticator.#shared ??= await ZapAuthenticator.#start(onReject));
      if (authenticator.#passwords.has(domain)) throw new RingbookError("ERR_ZAP_DOMAIN", `ZAP domain ${JSON.stringify(domain)} is already registered`);
      authenticator.#passwords.set(domain, Buffer.from(password));
      let released: Promise<void> | undefined;
      return {
        domain,
        release: () => (released ??= ZapAuthenticator.#inTurn(() => authenticator.#release(domain))),
      };
    });
  }

  /**
   * Closes this thread's handler synchronously, for a thread or process that is about to exit
   * (zeromq.js aborts the process when a thread is torn down with sockets still open).
   */
  static closeNow(): void {
    const shared = ZapAuthenticator.#shared;
    ZapAuthenticator.#shared = undefined;
    if (shared !== undefined) shared.#router.close();
  }

  /** Runs `step` after every earlier registration and release of this thread has finished. */
  static #inTurn<T>(step: () => Promise<T>): Promise<T> {
    const result = ZapAuthenticator.#turns.then(step);
    ZapAuthenticator.#turns = result.then(noop, noop);
    return result;
  }

  static #turns: Promise<void> = Promise.resolve();

  static async #start(onReject: (line: string) => void): Promise<ZapAuthenticator> {
    const router = new zmq.Router({ linger: 0 });
    try {
      await router.bind(zapEndpoint);
    } catch (error) {
      router.close();
      throw new RingbookError("ERR_ZAP_BIND", `could not start the ZeroMQ authenticator at ${zapEndpoint} (is a ZAP handler already bound in this process? zeromq.js gives all its threads one context)`, { cause: error });
    }
    return new ZapAuthenticator(router, onReject);
  }

  async #release(domain: string): Promise<void> {
    this.#passwords.delete(domain);
    if (this.#passwords.size > 0 || ZapAuthenticator.#shared !== this) return;
    ZapAuthenticator.#shared = undefined;
    await this.#stopServing();
    // Unbinding frees the inproc name at once; close alone frees it later, in libzmq's reaper
    // thread, and a register right after a release then failed with EADDRINUSE (3 runs in 15).
    // Only now, with no receive pending, may the pool thread have the socket to itself.
    if (!this.#router.closed) await this.#router.unbind(zapEndpoint).catch(noop);
    this.#router.close();
  }

  /**
   * Ends the receive loop, so that nothing polls the router from this thread any more. While a
   * receive is pending, zeromq.js checks the socket (`ZMQ_EVENTS`, which runs libzmq's pending
   * commands) from this thread whenever it signals; an `unbind()` meanwhile runs the same
   * commands on a pool thread. Both then ran the termination of the pipes of the sessions that
   * had just been authenticated (their sockets were closing), and libzmq aborted the process
   * (`pipe.cpp:355`, `_state == term_ack_sent || _state == term_req_sent2`) in ~1 of 300 cluster
   * resizes. A receive ends only with a message or a close, so a short-lived socket sends one.
   */
  async #stopServing(): Promise<void> {
    this.#stopping = true;
    if (this.#router.closed) return this.#loop;
    const stopper = new zmq.Dealer({ linger: 0, routingId: stopperId });
    try {
      stopper.connect(zapEndpoint);
      await stopper.send("stop");
      await this.#loop;
    } finally {
      stopper.close();
    }
  }

  async #serve(): Promise<void> {
    try {
      for (;;) {
        const frames = await this.#router.receive();
        if (this.#stopping && frames[0]?.toString() === stopperId) return;
        await this.#answer(frames);
      }
    } catch (error) {
      // Closing the router (closeNow) ends the loop with ETERM-like errors; anything else is reported.
      if (!this.#router.closed) this.#onReject(`ZAP handler stopped: ${(error as Error).message}`);
    }
  }

  async #answer(frames: Buffer[]): Promise<void> {
    // [routing id, empty, version, request id, domain, address, identity, mechanism, credentials...]
    const [id, empty, version, requestId, domain, address, , mechanism, , password] = frames;
    if (!id || !empty || !version || !requestId) return;
    const domainName = domain?.toString() ?? "";
    const expected = this.#passwords.get(domainName);
    let status = "400";
    let reason = "unknown domain";
    if (expected !== undefined) {
      if (mechanism?.toString() !== "PLAIN") {
        reason = `mechanism ${mechanism?.toString() ?? "none"} is not PLAIN`;
      } else if (password === undefined || password.length !== expected.length || !timingSafeEqual(password, expected)) {
        reason = "wrong password";
      } else {
        status = "200";
        reason = "OK";
      }
    }
    if (status !== "200") this.#onReject(`refused a connection to ${JSON.stringify(domainName)} from ${address?.toString() ?? "?"}: ${reason}`);
    await this.#router.send([id, empty, version, requestId, status, reason, "", ""]);
  }
}
