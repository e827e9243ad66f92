import { createHmac, timingSafeEqual } from "node:crypto";
import { ProtocolError } from "./protocol-error.js";

/** The only signature scheme Jupyter front ends use in practice. */
export const SUPPORTED_SIGNATURE_SCHEMES = ["hmac-sha256"] as const;
export type SignatureScheme = (typeof SUPPORTED_SIGNATURE_SCHEMES)[number];

/** Narrows a connection file's `signature_scheme`, or throws naming the unsupported value. */
export function parseSignatureScheme(value: unknown): SignatureScheme {
  if (value === "hmac-sha256") return value;
  throw new ProtocolError(
    "PROTOCOL_CONNECTION_FILE",
    `unsupported signature_scheme ${JSON.stringify(value)} in the connection file; ringbook supports ${SUPPORTED_SIGNATURE_SCHEMES.join(", ")}`,
  );
}

/**
 * Signs and verifies the four JSON parts of a message (header, parent header, metadata, content)
 * with HMAC-SHA256. An empty key disables signing: signatures are sent empty and not checked, as
 * the spec says; any non-empty key makes a missing or wrong signature a rejection.
 *
 * @example
 * const signer = new MessageSigner("hmac-sha256", key);
 * const signature = signer.sign([header, parent, metadata, content]);
 */
export class MessageSigner {
  readonly #key: Buffer;
  readonly #algorithm: string;

  constructor(scheme: SignatureScheme, key: string) {
    this.#key = Buffer.from(key, "utf8");
    this.#algorithm = scheme.slice("hmac-".length);
  }

  /** False when the key is empty, i.e. signing is disabled. */
  get enabled(): boolean {
    return this.#key.length > 0;
  }

  /** Hex digest of the signed parts (strings count as their UTF-8 bytes), or "" when signing is disabled. */
  sign(parts: ReadonlyArray<Buffer | string>): string {
    if (!this.enabled) return "";
    const hmac = createHmac(this.#algorithm, this.#key);
    for (const part of parts) hmac.update(part);
    return hmac.digest("hex");
  }

  /** Constant-time check of a received signature against the parts; true when signing is off. */
  verify(signature: Buffer, parts: readonly Buffer[]): boolean {
    if (!this.enabled) return true;
    const expected = Buffer.from(this.sign(parts), "latin1");
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }
}
