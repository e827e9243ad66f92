/**
 * Captures what code in the execution thread writes to stdout/stderr (console.log included) and
 * relays it as `output` messages tagged with the task that was running, batched per event-loop
 * turn so that a chatty loop does not become one message per line. {@link OutputRelay.flush} is
 * called before a task's result is posted, so output always arrives before the result.
 */
import { redirectOutput } from "../threads/redirect-output.js";
import type { FromExecution } from "./thread-protocol.js";

/** Lines tfjs prints when it loads without its native binding: noise for every worker. */
const bannerLines = /^={5,}\s*$|^Hi, looks like you are running TensorFlow\.js in Node\.js\. To speed things up dramatically, install our node backend/;

/** Upper bound of buffered text before an early flush. */
const maxBufferedChars = 64 * 1024;

type Stream = "stdout" | "stderr";

export class OutputRelay {
  readonly #post: (message: FromExecution) => void;
  readonly #schedule: (callback: () => void) => void;
  #taskId: string | null = null;
  #buffered: Array<{ taskId: string | null; stream: Stream; text: string }> = [];
  #bufferedChars = 0;
  #scheduled = false;
  #loading = true;

  constructor(post: (message: FromExecution) => void, schedule: (callback: () => void) => void) {
    this.#post = post;
    this.#schedule = schedule;
  }

  /** The task output is attributed to from now on (the last one stays current after it ends). */
  set taskId(taskId: string | null) {
    this.#taskId = taskId;
  }

  /** Ends start-up: from now on nothing is filtered (tfjs's banner is only dropped while it loads). */
  loaded(): void {
    this.#loading = false;
  }

  /** Captures this thread's console and process streams (see threads/redirect-output). */
  install(): void {
    redirectOutput((stream, text) => this.write(stream, text));
  }

  write(stream: Stream, text: string): void {
    if (text.length === 0) return;
    const kept = this.#loading
      ? text
          .split(/(?<=\n)/)
          .filter((line) => !bannerLines.test(line) && line.trim() !== "")
          .join("")
      : text;
    if (kept.length === 0) return;
    const last = this.#buffered.at(-1);
    if (last && last.taskId === this.#taskId && last.stream === stream) last.text += kept;
    else this.#buffered.push({ taskId: this.#taskId, stream, text: kept });
    this.#bufferedChars += kept.length;
    if (this.#bufferedChars >= maxBufferedChars) {
      this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(() => this.flush());
    }
  }

  /** Posts everything buffered, in order. */
  flush(): void {
    this.#scheduled = false;
    const buffered = this.#buffered;
    this.#buffered = [];
    this.#bufferedChars = 0;
    for (const { taskId, stream, text } of buffered) {
      this.#post({ type: "forward", message: { type: "output", taskId, stream, text }, payload: null });
    }
  }
}
