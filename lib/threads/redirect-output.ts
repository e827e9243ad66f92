/**
 * Captures what code in a thread writes (console and the process streams) so that it can be sent
 * where it belongs: the kernel's cell thread sends it to the running cell, a cluster worker's
 * execution thread to the task that runs.
 */
import { Console } from "node:console";

type WriteCallback = (error?: Error | null) => void;

/**
 * What tfjs's cpu backend prints (one `console.warn`) the first time it holds data in Node without
 * tfjs-node: advice about a backend that ringbook chooses itself (see select-backend), in the
 * output of whichever cell or task first used tfjs.
 */
const tfjsNodeBanner = /^\n={5,}\nHi, looks like you are running TensorFlow\.js in Node\.js\. To speed things up dramatically, install our node backend, visit \S+ for more details\. ?\n={5,}\n$/;

/**
 * Replaces `console` and the process streams' `write` with ones that call `write(name, text)`,
 * leaving out tfjs's banner about its Node backend. The returned function puts the originals back.
 */
export function redirectOutput(write: (name: "stdout" | "stderr", text: string) => void): () => void {
  const originalConsole = globalThis.console;
  const originalStdoutWrite = process.stdout.write;
  const originalStderrWrite = process.stderr.write;
  const streamFor = (name: "stdout" | "stderr") => {
    const stream = name === "stdout" ? process.stdout : process.stderr;
    const writeChunk = (chunk: unknown, encodingOrCallback?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean => {
      const encoding = typeof encodingOrCallback === "string" ? encodingOrCallback : "utf8";
      const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString(encoding) : String(chunk);
      if (!tfjsNodeBanner.test(text)) write(name, text);
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
  return () => {
    process.stdout.write = originalStdoutWrite;
    process.stderr.write = originalStderrWrite;
    globalThis.console = originalConsole;
  };
}
