import { parseFrames } from "../protocol/frames.js";
import { ProtocolError } from "../protocol/protocol-error.js";
import { parseRequest } from "../protocol/request-validators.js";
import type { MessageSigner } from "../protocol/signer.js";
import type { KernelRequest } from "../protocol/wire-types.js";
import type { ReceiveChannel } from "../sockets/kernel-sockets.js";
import type { RequestEnvelope } from "./message-sender.js";

/** A received message with its validated content, or why it has none. */
export interface DecodedRequest extends Omit<RequestEnvelope, "channel"> {
  /** undefined: a msg_type the kernel does not know, or invalid content (see `invalid`). */
  request: KernelRequest | undefined;
  invalid?: ProtocolError;
}

/** A shell or control request on its way to its handler. */
export interface QueuedRequest extends DecodedRequest, RequestEnvelope {
  /** Set for execute_requests queued behind a failed cell with stop_on_error. */
  aborted: boolean;
}

/**
 * Turns raw frames into requests: checks frames and signature, then validates the content for its
 * msg_type. A message that cannot be trusted (bad frames, bad signature, too large) is dropped
 * with one log line; one whose content is invalid is kept, so that it gets an error reply.
 */
export class RequestDecoder {
  readonly #signer: MessageSigner;
  readonly #maxMessageBytes: number;
  readonly #log: (line: string) => void;

  constructor(signer: MessageSigner, maxMessageBytes: number, log: (line: string) => void) {
    this.#signer = signer;
    this.#maxMessageBytes = maxMessageBytes;
    this.#log = log;
  }

  /** Frames → request, or undefined after one log line when the message must be dropped. */
  decode(frames: Buffer[], channel: ReceiveChannel): DecodedRequest | undefined {
    let received;
    try {
      received = parseFrames(frames, this.#signer, this.#maxMessageBytes);
    } catch (error) {
      this.#log(`${channel}: dropped a message: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
    const { ids, message } = received;
    try {
      return { ids, message, request: parseRequest(message.header.msg_type, message.content) };
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#log(`${channel}: invalid ${message.header.msg_type} ${message.header.msg_id}: ${error.message}`);
      return { ids, message, request: undefined, invalid: error };
    }
  }
}
