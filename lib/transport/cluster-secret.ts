/**
 * The per-cluster secret and the keys derived from it. Only the cluster's own processes know it:
 * the owner makes it and hands it to each worker over the worker's stdin pipe (never argv or the
 * environment, which other users can read through /proc on some systems).
 */
import { createHmac, randomBytes } from "node:crypto";
import { RingbookError } from "../errors.js";

/** Bytes of randomness in a secret. */
const secretBytes = 32;

/** A cluster's secret: the HMAC key for control messages and the password for peer sockets. */
export class ClusterSecret {
  readonly #secret: Buffer;

  private constructor(secret: Buffer) {
    this.#secret = secret;
  }

  /** A fresh random secret. */
  static generate(): ClusterSecret {
    return new ClusterSecret(randomBytes(secretBytes));
  }

  /** Parses the hex form made by {@link ClusterSecret.toHex}. */
  static fromHex(hex: unknown): ClusterSecret {
    if (typeof hex !== "string" || !/^[0-9a-f]+$/.test(hex) || hex.length !== secretBytes * 2) {
      throw new RingbookError("ERR_BAD_SECRET", `a cluster secret is ${secretBytes * 2} lowercase hex digits, got ${typeof hex === "string" ? `${hex.length} characters` : typeof hex}`);
    }
    return new ClusterSecret(Buffer.from(hex, "hex"));
  }

  toHex(): string {
    return this.#secret.toString("hex");
  }

  /** Key for HMAC-SHA256 signatures of control messages. */
  get signingKey(): Buffer {
    return this.#derive("ringbook control signing v1");
  }

  /**
   * Password for ZeroMQ PLAIN authentication of every connection to a cluster socket. It is
   * derived, not the secret itself: PLAIN sends it in clear over the connection, and knowing it
   * must not allow forging signed control messages.
   */
  get socketPassword(): string {
    return this.#derive("ringbook socket password v1").toString("hex");
  }

  #derive(label: string): Buffer {
    return createHmac("sha256", this.#secret).update(label).digest();
  }

  /** Keeps the secret out of logs and `util.inspect`. */
  toString(): string {
    return "ClusterSecret(****)";
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
