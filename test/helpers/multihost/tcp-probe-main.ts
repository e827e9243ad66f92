/**
 * One side of a TCP probe between bed hosts, run as its own process on a host (see tcp-probe.ts):
 *   serve PORT            accept one connection, count what arrives until the peer ends, answer
 *                         with a JSON line {bytes, durationMs, peerAddress}, then exit
 *   send HOST PORT BYTES  connect, send BYTES, end, print the server's answer, exit
 * The server prints `listening` once it accepts connections.
 */
import { createConnection, createServer } from "node:net";

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function serve(port: number): void {
  const server = createServer((socket) => {
    server.close();
    let bytes = 0;
    let firstByteAt: bigint | undefined;
    socket.on("data", (chunk: Buffer) => {
      firstByteAt ??= process.hrtime.bigint();
      bytes += chunk.length;
    });
    socket.on("end", () => {
      const durationMs = firstByteAt === undefined ? 0 : Number(process.hrtime.bigint() - firstByteAt) / 1e6;
      socket.end(`${JSON.stringify({ bytes, durationMs, peerAddress: socket.remoteAddress })}\n`);
    });
    socket.on("error", (error) => fail(`probe server: ${error.message}`));
  });
  server.listen(port, "0.0.0.0", () => process.stdout.write("listening\n"));
}

function send(host: string, port: number, totalBytes: number): void {
  const chunk = Buffer.alloc(Math.min(totalBytes, 1 << 20), 0x5a);
  const socket = createConnection({ host, port }, () => {
    let left = totalBytes;
    const writeMore = (): void => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!socket.write(piece)) return void socket.once("drain", writeMore);
      }
      socket.end();
    };
    writeMore();
  });
  let answer = "";
  socket.on("data", (data: Buffer) => (answer += data.toString("utf8")));
  socket.on("end", () => process.stdout.write(answer));
  socket.on("error", (error) => fail(`probe client to ${host}:${port}: ${error.message}`));
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "serve" && args.length === 1) serve(Number(args[0]));
else if (mode === "send" && args.length === 3) send(args[0] ?? "", Number(args[1]), Number(args[2]));
else fail(`usage: tcp-probe-main.js serve PORT | send HOST PORT BYTES (got ${JSON.stringify(process.argv.slice(2))})`);
