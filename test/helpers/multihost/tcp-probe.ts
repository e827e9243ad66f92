/**
 * Sends bytes over one TCP connection from one bed host to another, each side a process on its
 * host (tcp-probe-main.ts), and reports what the receiver measured: so a test sees that hosts
 * reach each other's addresses, from which address, and at what rate their link carries data.
 */
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { BedHost } from "./bed-layout.js";
import type { TestBed } from "./test-bed.js";

const probeMain = fileURLToPath(new URL("./tcp-probe-main.js", import.meta.url));

/** What the receiving side measured. */
export interface TcpProbeResult {
  bytes: number;
  /** From the first byte received to the sender's end of stream. */
  durationMs: number;
  /** The sender's address as the receiver saw it. */
  peerAddress: string;
  /** Payload throughput: bytes x 8 / duration. */
  megabitsPerSecond: number;
}

function parseResult(text: string): TcpProbeResult {
  const value: unknown = JSON.parse(text);
  if (typeof value === "object" && value !== null && "bytes" in value && "durationMs" in value && "peerAddress" in value) {
    const { bytes, durationMs, peerAddress } = value;
    if (typeof bytes === "number" && typeof durationMs === "number" && typeof peerAddress === "string") {
      return { bytes, durationMs, peerAddress, megabitsPerSecond: durationMs > 0 ? (bytes * 8) / (durationMs * 1000) : Infinity };
    }
  }
  throw new Error(`not a TCP probe result: ${JSON.stringify(text)}`);
}

/** Sends `bytes` from `from` to `to`'s address on `port`; rejects with both sides' output on failure. */
export async function probeTcp(bed: TestBed, from: BedHost, to: BedHost, options: { bytes: number; port?: number; timeoutMs?: number }): Promise<TcpProbeResult> {
  const port = options.port ?? 5201;
  const server = bed.spawnOn(to, process.execPath, [probeMain, "serve", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
  let serverOutput = "";
  server.stderr?.on("data", (chunk: Buffer) => (serverOutput += chunk.toString("utf8")));
  const serverExit = once(server, "exit");
  try {
    // The client starts only once the server listens: no connection refused by a race.
    await new Promise<void>((resolve, reject) => {
      server.stdout?.on("data", (chunk: Buffer) => {
        if (chunk.toString("utf8").includes("listening")) resolve();
      });
      server.once("exit", (code) => reject(new Error(`probe server on ${to.name} exited with ${code} before listening: ${serverOutput}`)));
    });
    const client = await bed.run(from, process.execPath, [probeMain, "send", to.address, String(port), String(options.bytes)], { timeoutMs: options.timeoutMs ?? 60_000 });
    if (client.code !== 0) throw new Error(`probe from ${from.name} to ${to.name} (${to.address}:${port}) failed with ${client.code}: ${client.stderr.trim()} ${serverOutput.trim()}`);
    await serverExit;
    return parseResult(client.stdout.trim());
  } finally {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill("SIGKILL");
      await serverExit;
    }
  }
}
