/**
 * The owner's control socket: one ROUTER that every worker's supervisor connects to, authenticated
 * at the handshake (CURVE on tcp, which also encrypts; PLAIN in the private ipc directory, see
 * transport/link-security.ts) and with an HMAC signature on every message. A message that is
 * unsigned, wrongly signed, malformed, or sent by a connection whose identity does not match the
 * header is dropped with a log line and never reaches the cluster.
 */
import * as zmq from "zeromq";
import type { ClusterSecret } from "../transport/cluster-secret.js";
import { SerialSender } from "../transport/serial-sender.js";
import { signFrames, verifyFrames } from "../transport/signed-frames.js";
import { registerLinkDomain, serverSocketOptions, type LinkSecurity } from "../transport/link-security.js";
import type { ZapRegistration } from "../transport/zap-authenticator.js";
import { encodeToWorker, parseFromWorker, routingIdOf, type FromWorker, type ToWorker, type WorkerIdentity } from "./messages.js";

/** A verified message from a worker, with its payload frame if any. */
export type ReceivedMessage = FromWorker & WorkerIdentity & { payload: Buffer | null };

export class ControlChannel {
  readonly endpoint: string;
  readonly #router: zmq.Router;
  readonly #sender: SerialSender;
  readonly #key: Buffer;
  readonly #zap: ZapRegistration;
  readonly #log: (line: string) => void;
  #loop: Promise<void> | undefined;
  #closed = false;

  private constructor(router: zmq.Router, endpoint: string, key: Buffer, zap: ZapRegistration, log: (line: string) => void) {
    this.#router = router;
    this.endpoint = endpoint;
    this.#key = key;
    this.#zap = zap;
    this.#log = log;
    this.#sender = new SerialSender(router, "cluster control", log);
  }

  /** Binds the socket at `bindAddress` (an ipc path, or tcp with port `*`); connections must meet `security`. */
  static async bind(options: { bindAddress: string; secret: ClusterSecret; security: LinkSecurity; zapDomain: string; log: (line: string) => void }): Promise<ControlChannel> {
    const zap = await registerLinkDomain(options.security, options.zapDomain, options.log);
    // Unroutable sends fail loudly instead of vanishing; handover lets a restarted rank reconnect.
    const router = new zmq.Router({ ...serverSocketOptions(options.security, options.zapDomain), linger: 0, mandatory: true, sendHighWaterMark: 10_000, receiveHighWaterMark: 10_000 });
    try {
      await router.bind(options.bindAddress);
    } catch (error) {
      router.close();
      await zap.release();
      throw error;
    }
    return new ControlChannel(router, router.lastEndpoint ?? options.bindAddress, options.secret.signingKey, zap, options.log);
  }

  /** Starts delivering verified messages to `onMessage`; the loop is awaited by {@link close}. */
  start(onMessage: (message: ReceivedMessage) => void): void {
    this.#loop ??= this.#receive(onMessage);
  }

  /** Queues a signed message to one worker. */
  send(to: WorkerIdentity, message: ToWorker, payload: Uint8Array | null = null): void {
    if (this.#closed) return;
    const payloads = payload === null ? [] : [Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)];
    this.#sender.enqueue([Buffer.from(routingIdOf(to)), ...signFrames(this.#key, encodeToWorker(message), payloads)]);
  }

  async #receive(onMessage: (message: ReceivedMessage) => void): Promise<void> {
    try {
      for await (const [routingId, ...frames] of this.#router) {
        const from = routingId?.toString() ?? "?";
        const verified = verifyFrames(this.#key, frames);
        if (!verified.ok) {
          this.#log(`cluster: dropped a message from connection ${JSON.stringify(from)}: ${verified.reason}`);
          continue;
        }
        let message: FromWorker & WorkerIdentity;
        try {
          message = parseFromWorker(verified.header);
        } catch (error) {
          this.#log(`cluster: dropped a message from ${JSON.stringify(from)}: ${(error as Error).message}`);
          continue;
        }
        if (routingIdOf(message) !== from) {
          this.#log(`cluster: dropped a message claiming rank ${message.rank}.${message.incarnation} on connection ${JSON.stringify(from)}`);
          continue;
        }
        onMessage({ ...message, payload: verified.payloads[0] ?? null });
      }
    } catch (error) {
      if (!this.#closed) this.#log(`cluster: control socket failed: ${(error as Error).message}`);
    }
  }

  /** Sends what is queued (bounded wait), closes the socket and releases ZAP. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.race([this.#sender.close(), new Promise((resolve) => setTimeout(resolve, 500).unref())]);
    this.#router.close();
    await this.#loop;
    await this.#zap.release();
  }
}
