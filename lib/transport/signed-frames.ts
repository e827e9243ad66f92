/**
 * Signed multipart messages for a cluster's control plane, as the Jupyter wire protocol signs
 * its messages: `[signature, header, ...payloads]`, where the signature is HMAC-SHA256 over every
 * other frame, each preceded by its length so that frame boundaries cannot be shifted. A frame
 * set that is malformed or wrongly signed is refused with a reason, never half-used.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** Signature length in bytes (SHA-256). */
const signatureBytes = 32;

/** Result of {@link verifyFrames}. */
export type VerifiedFrames =
  | { ok: true; header: Buffer; payloads: Buffer[] }
  | { ok: false; reason: string };

function sign(key: Buffer, frames: readonly Uint8Array[]): Buffer {
  const hmac = createHmac("sha256", key);
  const length = Buffer.alloc(8);
  for (const frame of frames) {
    length.writeBigUInt64BE(BigInt(frame.byteLength));
    hmac.update(length);
    hmac.update(frame);
  }
  return hmac.digest();
}

/** Frames to send: the signature, then `header` and `payloads`. */
export function signFrames(key: Buffer, header: Buffer, payloads: readonly Buffer[] = []): Buffer[] {
  const frames = [header, ...payloads];
  return [sign(key, frames), ...frames];
}

/** Checks a received frame set made by {@link signFrames}. */
export function verifyFrames(key: Buffer, frames: readonly Buffer[]): VerifiedFrames {
  const [signature, header, ...payloads] = frames;
  if (signature === undefined || header === undefined) return { ok: false, reason: `expected at least 2 frames (signature, header), got ${frames.length}` };
  if (signature.length !== signatureBytes) return { ok: false, reason: `signature frame has ${signature.length} bytes, expected ${signatureBytes}` };
  const expected = sign(key, [header, ...payloads]);
  if (!timingSafeEqual(signature, expected)) return { ok: false, reason: "bad signature" };
  return { ok: true, header, payloads };
}
