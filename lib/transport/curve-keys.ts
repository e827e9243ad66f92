/**
 * A cluster's CURVE keys (CurveZMQ: a Curve25519 handshake, then every frame encrypted and
 * authenticated). The owner makes them for each cluster; they reach the workers only inside the
 * bootstrap line on stdin, with the cluster secret, never in argv, the environment, a file or
 * Slurm's records. Two keypairs: the server one for every socket that binds (the owner's control
 * socket, each rank's peer socket), the client one for every socket that connects. Every member
 * holds both, since every rank binds a peer socket too; the ZAP handler admits only the client
 * public key, so a process without the keys fails at the handshake, before any message.
 *
 * Plain data, not a class: the bootstrap crosses to the execution thread as a structured clone.
 */
import * as zmq from "zeromq";
import { RingbookError } from "../errors.js";
import { isJsonObject } from "../json-guards.js";
import { isZ85Key } from "./z85.js";

/** The cluster's two CURVE keypairs, as Z85 text (40 characters each). */
export interface CurveKeys {
  readonly serverPublicKey: string;
  readonly serverSecretKey: string;
  readonly clientPublicKey: string;
  readonly clientSecretKey: string;
}

const keyNames = ["serverPublicKey", "serverSecretKey", "clientPublicKey", "clientSecretKey"] as const;

/** Fresh keypairs; throws `ERR_NO_CURVE` where this build of libzmq has no CURVE. */
export function generateCurveKeys(): CurveKeys {
  if (!zmq.capability.curve) {
    throw new RingbookError("ERR_NO_CURVE", `this zeromq build (libzmq ${zmq.version}) has no CURVE, so tcp links cannot be encrypted; use transport "ipc", or linkEncryption "none" for a measurement on a trusted network`);
  }
  const server = zmq.curveKeyPair();
  const client = zmq.curveKeyPair();
  return { serverPublicKey: server.publicKey, serverSecretKey: server.secretKey, clientPublicKey: client.publicKey, clientSecretKey: client.secretKey };
}

/** Checks keys that arrived from outside (the bootstrap); errors name the field, never a key. */
export function parseCurveKeys(value: unknown): CurveKeys {
  if (!isJsonObject(value)) throw new RingbookError("ERR_BAD_CURVE_KEYS", `CURVE keys must be an object with ${keyNames.join(", ")}, got ${value === null ? "null" : typeof value}`);
  const key = (name: (typeof keyNames)[number]): string => {
    const field = value[name];
    if (!isZ85Key(field)) throw new RingbookError("ERR_BAD_CURVE_KEYS", `CURVE key ${name} must be 40 characters of Z85 text, got ${typeof field === "string" ? `${field.length} characters` : typeof field}`);
    return field;
  };
  return { serverPublicKey: key("serverPublicKey"), serverSecretKey: key("serverSecretKey"), clientPublicKey: key("clientPublicKey"), clientSecretKey: key("clientSecretKey") };
}
