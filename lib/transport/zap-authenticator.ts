/**
 * ZeroMQ's authentication hook (ZAP, rfc.zeromq.org/spec:27): every connection to a socket of a
 * registered ZAP domain is accepted only if it presents what the domain admits: the PLAIN password
 * (sockets made with {@link zapServerOptions}), or the CURVE client public key (see
 * link-security.ts). The check happens once, at the handshake, so the data plane pays nothing per
 * message, and a peer refused never gets a single message through.
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
import { encodeZ85 } from "./z85.js";

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

/**
 * What a ZAP domain admits: connections with this PLAIN password, or CURVE connections whose
 * client public key (Z85) is this one. A connection with another mechanism is refused.
 */
export type ZapAdmission = { readonly mechanism: "PLAIN"; readonly password: string } | { readonly mechanism: "CURVE"; readonly clientPublicKey: string };

/** An admission as the handler compares it: the password's or the key's bytes. */
interface Admitted {
  readonly mechanism: "PLAIN" | "CURVE";
  readonly credential: Buffer;
}

function admittedOf(admission: ZapAdmission): Admitted {
  switch (admission.mechanism) {
    case "PLAIN":
      return { mechanism: "PLAIN", credential: Buffer.from(admission.password) };
    case "CURVE":
      return { mechanism: "CURVE", credential: Buffer.from(admission.clientPublicKey) };
    default: {
      const impossible: never = admission;
      throw new RingbookError("ERR_BAD_ARGUMENT", `unknown ZAP mechanism in ${JSON.stringify(impossible)}`);
    }
  }
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
  /** What each domain admits, and the log of the cluster or mesh that registered it. */
  readonly #admissions = new Map<string, { admitted: Admitted; onReject: (line: string) => void }>();
  #stopping = false;

  private constructor(router: zmq.Router) {
    this.#router = router;
    this.#loop = this.#serve();
  }

  /**
   * Accepts connections to sockets of ZAP domain `domain` that present what `admission` admits.
   * `onReject` gets a log line for each refused connection to this domain (a connection to a
   * domain no one registered is told to every registration's).
   * Registrations and releases run one at a time, so that the handler is started and stopped once.
   */
  static register(domain: string, admission: ZapAdmission, onReject: (line: string) => void = () => {}): Promise<ZapRegistration> {
    const admitted = admittedOf(admission);
    return ZapAuthenticator.#inTurn(async () => {
      const authenticator = (ZapAuthenticator.#shared ??= await ZapAuthenticator.#start());
      if (authenticator.#admissions.has(domain)) throw new RingbookError("ERR_ZAP_DOMAIN", `ZAP domain ${JSON.stringify(domain)} is already registered`);
      authenticator.#admissions.set(domain, { admitted, onReject });
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

  static async #start(): Promise<ZapAuthenticator> {
    const router = new zmq.Router({ linger: 0 });
    try {
      await router.bind(zapEndpoint);
    } catch (error) {
      router.close();
      throw new RingbookError("ERR_ZAP_BIND", `could not start the ZeroMQ authenticator at ${zapEndpoint} (is a ZAP handler already bound in this process? zeromq.js gives all its threads one context)`, { cause: error });
    }
    return new ZapAuthenticator(router);
  }

  async #release(domain: string): Promise<void> {
    this.#admissions.delete(domain);
    if (this.#admissions.size > 0 || ZapAuthenticator.#shared !== this) return;
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
      if (!this.#router.closed) this.#logAll(`ZAP handler stopped: ${(error as Error).message}`);
    }
  }

  /** A line for the log of every registration. */
  #logAll(line: string): void {
    for (const { onReject } of this.#admissions.values()) onReject(line);
  }

  async #answer(frames: Buffer[]): Promise<void> {
    // [routing id, empty, version, request id, domain, address, identity, mechanism, credentials...]
    // PLAIN's credentials are a username and a password; CURVE's the client's 32-byte public key.
    const [id, empty, version, requestId, domain, address, , mechanism, ...credentials] = frames;
    if (!id || !empty || !version || !requestId) return;
    const domainName = domain?.toString() ?? "";
    const registered = this.#admissions.get(domainName);
    const verdict = this.#judge(registered?.admitted, mechanism?.toString() ?? "NULL", credentials);
    if (verdict !== "OK") {
      const line = `refused a connection to ${JSON.stringify(domainName)} from ${address?.toString() ?? "?"}: ${verdict}`;
      if (registered !== undefined) registered.onReject(line);
      else this.#logAll(line);
    }
    await this.#router.send([id, empty, version, requestId, verdict === "OK" ? "200" : "400", verdict, "", ""]);
  }

  /** "OK", or why the connection is refused. */
  #judge(admitted: Admitted | undefined, mechanism: string, credentials: Buffer[]): string {
    if (admitted === undefined) return "unknown domain";
    if (mechanism !== admitted.mechanism) return `mechanism ${mechanism} is not ${admitted.mechanism}`;
    if (admitted.mechanism === "PLAIN") {
      const password = credentials[1];
      return password !== undefined && password.length === admitted.credential.length && timingSafeEqual(password, admitted.credential) ? "OK" : "wrong password";
    }
    const key = credentials[0];
    if (key === undefined || key.length !== 32) return "no CURVE client key";
    const keyText = Buffer.from(encodeZ85(key));
    return keyText.length === admitted.credential.length && timingSafeEqual(keyText, admitted.credential) ? "OK" : `CURVE client key ${keyText.toString()} is not the cluster's`;
  }
}
