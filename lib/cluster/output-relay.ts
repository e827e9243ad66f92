/**
 * Captures what code in the execution thread writes to stdout/stderr (console.log included) and
 * relays it as `output` messages tagged with the task that was running, batched per event-loop
 * turn so that a chatty loop does not become one message per line. {@link OutputRelay.flush} is
 * called before a task's result is posted, so output always arrives before the result.
 */
import { redirectOutput } from "../threads/redirect-output.js";
import type { FromExecution } from "./thread-protocol.js";

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

  constructor(post: (message: FromExecution) => void, schedule: (callback: () => void) => void) {
    this.#post = post;
    this.#schedule = schedule;
  }

  /** The task output is attributed to from now on (the last one stays current after it ends). */
  set taskId(taskId: string | null) {
    this.#taskId = taskId;
  }

  /** Captures this thread's console and process streams (see threads/redirect-output); the returned function releases them. */
  install(): () => void {
    return redirectOutput((stream, text) => this.write(stream, text));
  }

  write(stream: Stream, text: string): void {
    if (text.length === 0) return;
    const last = this.#buffered.at(-1);
    if (last && last.taskId === this.#taskId && last.stream === stream) last.text += text;
    else this.#buffered.push({ taskId: this.#taskId, stream, text });
    this.#bufferedChars += text.length;
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
