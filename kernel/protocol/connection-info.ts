import { isJsonObject, quote } from "./json-guards.js";
import { ProtocolError } from "./protocol-error.js";
import { parseSignatureScheme, type SignatureScheme } from "./signer.js";

/** The five kernel channels and the socket each is bound to. */
export type Channel = "shell" | "control" | "stdin" | "iopub" | "hb";

/** A validated Jupyter connection file. */
export interface ConnectionInfo {
  transport: "tcp" | "ipc";
  ip: string;
  ports: Record<Channel, number>;
  key: string;
  signatureScheme: SignatureScheme;
  kernelName?: string;
}

const PORT_FIELDS: Record<Channel, string> = {
  shell: "shell_port",
  control: "control_port",
  stdin: "stdin_port",
  iopub: "iopub_port",
  hb: "hb_port",
};

/**
 * Validates the parsed JSON of a connection file. Throws {@link ProtocolError} naming the bad field
 * and value, including an unsupported `signature_scheme` (a startup error, not a silent fallback).
 */
export function parseConnectionInfo(value: unknown, source = "connection file"): ConnectionInfo {
  const fail = (what: string): never => {
    throw new ProtocolError("PROTOCOL_CONNECTION_FILE", `${source}: ${what}`);
  };
  if (!isJsonObject(value)) return fail(`expected a JSON object, got ${quote(value)}`);
  const transport = value["transport"] ?? "tcp";
  if (transport !== "tcp" && transport !== "ipc") return fail(`unsupported transport ${quote(transport)} (expected "tcp" or "ipc")`);
  const ip = value["ip"] ?? (transport === "tcp" ? "127.0.0.1" : "kernel-ipc");
  if (typeof ip !== "string" || ip.length === 0) return fail(`ip must be a non-empty string, got ${quote(ip)}`);
  const key = value["key"] ?? "";
  if (typeof key !== "string") return fail(`key must be a string, got ${quote(key)}`);
  const scheme = value["signature_scheme"] ?? "hmac-sha256";
  let signatureScheme: SignatureScheme;
  try {
    signatureScheme = parseSignatureScheme(scheme);
  } catch (error) {
    throw new ProtocolError("PROTOCOL_CONNECTION_FILE", `${source}: ${(error as Error).message}`, { cause: error });
  }
  const ports = {} as Record<Channel, number>;
  for (const [channel, field] of Object.entries(PORT_FIELDS) as Array<[Channel, string]>) {
    const port = value[field];
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      return fail(`${field} must be an integer port 1-65535, got ${quote(port)}`);
    }
    ports[channel] = port;
  }
  const kernelName = value["kernel_name"];
  return {
    transport,
    ip,
    ports,
    key,
    signatureScheme,
    ...(typeof kernelName === "string" ? { kernelName } : {}),
  };
}

/** The ZeroMQ endpoint of a channel: `tcp://ip:port` or, as jupyter_client does, `ipc://ip-port`. */
export function channelEndpoint(info: ConnectionInfo, channel: Channel): string {
  const port = info.ports[channel];
  return info.transport === "tcp" ? `tcp://${info.ip}:${port}` : `ipc://${info.ip}-${port}`;
}
