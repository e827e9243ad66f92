/** Turning task outcomes and output into what the caller sees. */
import { ClusterTaskError, TaskInterruptedError, WorkerDiedError } from "./cluster-errors.js";
import type { RankOutcome, TaskEvent } from "./pending-task.js";

/** Values in rank order, or the error of the ranks that failed. */
export function collectResults(outcomes: ReadonlyArray<{ rank: number; outcome: RankOutcome }>): unknown[] {
  const interrupted = outcomes.filter(({ outcome }) => outcome.status === "interrupted").map(({ rank }) => rank);
  const failures = outcomes
    .flatMap(({ rank, outcome }) => (outcome.status === "error" ? [{ rank, error: outcome.error }] : []))
    // A dead worker first: the other ranks' failures (a collective that lost its peer) follow from it.
    .sort((a, b) => Number(b.error instanceof WorkerDiedError) - Number(a.error instanceof WorkerDiedError));
  const values = outcomes.map(({ outcome }) => (outcome.status === "ok" ? outcome.value : undefined));
  // A death is the news; ranks interrupted because of it are a consequence.
  if (failures.length > 0) throw new ClusterTaskError(failures, values);
  if (interrupted.length > 0) throw new TaskInterruptedError(interrupted);
  return values;
}

/** `[rank r] ` before every line. */
export function prefixLines(rank: number, text: string): string {
  return text.replace(/^(?=.)/gm, `[rank ${rank}] `);
}

/** Prints task output line by line with rank prefixes, keeping partial lines per rank and stream. */
export class PrefixedPrinter {
  /** The unfinished line of each rank and stream, keyed by `rank:stream`. */
  readonly #partial = new Map<string, { rank: number; stream: "stdout" | "stderr"; text: string }>();

  print(event: TaskEvent): void {
    if (event.kind !== "output") return;
    const key = `${event.rank}:${event.stream}`;
    const text = (this.#partial.get(key)?.text ?? "") + event.text;
    const cut = text.lastIndexOf("\n") + 1;
    this.#partial.set(key, { rank: event.rank, stream: event.stream, text: text.slice(cut) });
    if (cut > 0) this.#write(event.stream, prefixLines(event.rank, text.slice(0, cut)));
  }

  end(): void {
    for (const { rank, stream, text } of this.#partial.values()) {
      if (text !== "") this.#write(stream, `${prefixLines(rank, text)}\n`);
    }
    this.#partial.clear();
  }

  #write(stream: "stdout" | "stderr", text: string): void {
    if (stream === "stdout") process.stdout.write(text);
    else process.stderr.write(text);
  }
}
