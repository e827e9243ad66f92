/**
 * Captures what code in a thread writes (console and the process streams) so that it can be sent
 * where it belongs: the kernel's cell thread sends it to the running cell, a cluster worker's
 * execution thread to the task that runs.
 */
import { Console } from "node:console";

type WriteCallback = (error?: Error | null) => void;

/** Replaces `console` and the process streams' `write` with ones that call `write(name, text)`. */
export function redirectOutput(write: (name: "stdout" | "stderr", text: string) => void): void {
  const streamFor = (name: "stdout" | "stderr") => {
    const stream = name === "stdout" ? process.stdout : process.stderr;
    const writeChunk = (chunk: unknown, encodingOrCallback?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean => {
      const encoding = typeof encodingOrCallback === "string" ? encodingOrCallback : "utf8";
      const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString(encoding) : String(chunk);
      write(name, text);
      const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback;
      if (done) process.nextTick(done);
      return true;
    };
    stream.write = writeChunk as typeof stream.write;
    return stream;
  };
  const stdout = streamFor("stdout");
  const stderr = streamFor("stderr");
  // No colours: Jupyter front ends show the text as it is.
  globalThis.console = new Console({ stdout, stderr, colorMode: false });
}
