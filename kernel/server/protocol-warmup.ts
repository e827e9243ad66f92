/**
 * Warms up the main thread's message path (HMAC, JSON, header and request validation, reply
 * encoding) once the kernel has answered its first request, before cells come. Like the cell
 * worker's compiler warm-up: without it V8 optimizes these functions one by one during the first
 * few hundred cells, which meanwhile run slower (measured on two cores: ~5% on a cell's round
 * trip). Synthetic messages are encoded and decoded only; nothing is sent or handled. Work goes in
 * slices of at most `sliceMs`, each its own event-loop task, and stops for good once a cell is
 * queued, the budget is spent or the signal aborts; the promise it returns is its owner's to await.
 */
import { childOf, messageWithParent } from "../protocol/child-of.js";
import { encodeMessage, serializeMessage } from "../protocol/frames.js";
import type { MessageSigner } from "../protocol/signer.js";
import { PROTOCOL_VERSION, type WireMessage } from "../protocol/wire-types.js";

export interface ProtocolWarmupOptions {
  signer: MessageSigner;
  /** The server's own decoder of shell frames (validation included). */
  decode(frames: Buffer[]): unknown;
  /** True once the warm-up must stop (a cell was queued). */
  shouldStop(): boolean;
  /** Stops the warm-up before its next slice (the kernel closes). */
  signal?: AbortSignal;
  /** @default 60 */
  budgetMs?: number;
  /** @default 1 */
  sliceMs?: number;
}

/** Runs the warm-up in slices; resolves with the number of round trips once it stopped. */
export function warmUpProtocol(options: ProtocolWarmupOptions): Promise<number> {
  const budgetMs = options.budgetMs ?? 60;
  const sliceMs = options.sliceMs ?? 1;
  const routingId = Buffer.from("warm-up");
  let rounds = 0;
  let spentMs = 0;
  return new Promise((resolve) => {
    const slice = (): void => {
      if (options.shouldStop() || options.signal?.aborted === true) {
        resolve(rounds);
        return;
      }
      const start = performance.now();
      do {
        const request: WireMessage = {
          header: { msg_id: `warm-up-${rounds}`, msg_type: "execute_request", session: "warm-up", username: "", date: new Date().toISOString(), version: PROTOCOL_VERSION },
          parent_header: {},
          metadata: {},
          content: { code: `${rounds} + 1`, silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true },
          buffers: [],
        };
        options.decode(serializeMessage([routingId], request, options.signer));
        encodeMessage(["kernel.warm-up.status"], messageWithParent(request.header, "warm-up", "status", { execution_state: "busy" }), options.signer);
        encodeMessage([routingId], childOf(request, "execute_reply", { status: "ok", execution_count: rounds, payload: [], user_expressions: {} }), options.signer);
        rounds++;
      } while (performance.now() - start < sliceMs);
      spentMs += performance.now() - start;
      if (spentMs >= budgetMs) resolve(rounds);
      else setImmediate(slice);
    };
    setImmediate(slice);
  });
}
