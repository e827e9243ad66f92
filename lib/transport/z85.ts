/**
 * Z85 (rfc.zeromq.org/spec:32), the text form ZeroMQ gives CURVE keys in. The ZAP handler gets a
 * client's public key as 32 raw bytes and compares it with keys the cluster holds as Z85 text.
 */
import { RingbookError } from "../errors.js";

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/** Characters of a Z85 CURVE key (32 bytes). */
export const z85KeyLength = 40;

/** The Z85 text of `bytes` (a multiple of 4 bytes long). */
export function encodeZ85(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RingbookError("ERR_BAD_ARGUMENT", `Z85 encodes a multiple of 4 bytes, got ${bytes.length}`);
  let text = "";
  for (let offset = 0; offset < bytes.length; offset += 4) {
    let value = (bytes[offset]! * 2 ** 24) + (bytes[offset + 1]! << 16) + (bytes[offset + 2]! << 8) + bytes[offset + 3]!;
    let group = "";
    for (let digit = 0; digit < 5; digit++) {
      group = alphabet[value % 85]! + group;
      value = Math.floor(value / 85);
    }
    text += group;
  }
  return text;
}

/** True for the Z85 text of a 32-byte CURVE key. */
export function isZ85Key(value: unknown): value is string {
  return typeof value === "string" && value.length === z85KeyLength && [...value].every((char) => alphabet.includes(char));
}
