import { appendFile, mkdir, open, readFile, writeFile, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { isJsonObject } from "../protocol/json-guards.js";
import type { HistoryEntry } from "../protocol/wire-types.js";

/** One executed cell as remembered: its session, line (execution count), input and text output. */
interface HistoryRecord {
  session: number;
  line: number;
  input: string;
  output: string | null;
}

export interface HistoryStoreOptions {
  /** JSON-lines file shared by all sessions; earlier sessions are read from it at start. */
  file: string;
  log: (line: string) => void;
  /** Records kept in memory (older ones are forgotten, and dropped from the file at the next start). @default 10000 */
  maxRecords?: number;
  /**
   * Records of this long go out in one write (flush() and close() write at once). A write wakes a
   * thread-pool thread: on two cores, one per cell competed with the front end reading the reply.
   * @default 100
   */
  writeDelayMs?: number;
}

/**
 * Input history per kernel session, like IPython's: each kernel start is a new session numbered
 * after the last one in the file. Writes never block the hot path: records are appended to the
 * file asynchronously, in batches, by one owned write loop, through a file handle kept open (an
 * appendFile per cell cost the main thread ~100 µs of CPU for its open, write and close), at most
 * one write per `writeDelayMs`.
 */
export class HistoryStore {
  readonly session: number;
  readonly #file: string;
  readonly #log: (line: string) => void;
  readonly #maxRecords: number;
  readonly #writeDelayMs: number;
  /** Ends the write loop's wait early (flush, close). */
  #writeNow: (() => void) | undefined;
  #records: HistoryRecord[];
  #unwritten: string[] = [];
  #writing: Promise<void> | undefined;
  /** Opened in append mode at the first write; reopened after a failed write; closed by close(). */
  #handle: FileHandle | undefined;
  #closed = false;

  private constructor(options: HistoryStoreOptions, records: HistoryRecord[], session: number) {
    this.#file = options.file;
    this.#log = options.log;
    this.#maxRecords = options.maxRecords ?? 10_000;
    this.#writeDelayMs = options.writeDelayMs ?? 100;
    this.#records = records;
    this.session = session;
  }

  /** Reads earlier sessions (a missing or partly corrupt file is not fatal) and opens a new session. */
  static async open(options: HistoryStoreOptions): Promise<HistoryStore> {
    const maxRecords = options.maxRecords ?? 10_000;
    let records: HistoryRecord[] = [];
    let lineCount = 0;
    try {
      const text = await readFile(options.file, "utf8");
      for (const line of text.split("\n")) {
        if (line.trim() === "") continue;
        lineCount += 1;
        const record = parseRecord(line);
        if (record === undefined) options.log(`history: skipped an unreadable line in ${options.file}`);
        else records.push(record);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") options.log(`history: cannot read ${options.file}: ${(error as Error).message}`);
    }
    if (records.length > maxRecords) records = records.slice(-maxRecords);
    const session = records.reduce((max, record) => Math.max(max, record.session), 0) + 1;
    const store = new HistoryStore(options, records, session);
    try {
      await mkdir(dirname(options.file), { recursive: true });
      // Keep the file from growing without bound: rewrite it with what is kept in memory.
      if (lineCount > records.length) await writeFile(options.file, records.map((record) => `${JSON.stringify(record)}\n`).join(""));
    } catch (error) {
      options.log(`history: cannot prepare ${options.file}: ${(error as Error).message}`);
    }
    return store;
  }

  /** Remembers a cell's input (line = its execution count); returns a handle to attach output. */
  recordInput(line: number, input: string): { setOutput(output: string | null): void } {
    const record: HistoryRecord = { session: this.session, line, input, output: null };
    this.#records.push(record);
    if (this.#records.length > this.#maxRecords * 1.5) this.#records = this.#records.slice(-this.#maxRecords);
    return {
      setOutput: (output) => {
        record.output = output;
        this.#append(record);
      },
    };
  }

  /** The last `n` cells, oldest first. */
  tail(n: number, output: boolean): HistoryEntry[] {
    return n === 0 ? [] : this.#records.slice(-n).map((record) => toEntry(record, output));
  }

  /**
   * Lines `start` (inclusive) to `stop` (exclusive; null = to the end) of a session: 0 is the
   * current session, negative numbers count back from it, positive ones are absolute.
   */
  range(session: number, start: number, stop: number | null, output: boolean): HistoryEntry[] {
    const target = session <= 0 ? this.session + session : session;
    return this.#records
      .filter((record) => record.session === target && record.line >= start && (stop === null || record.line < stop))
      .map((record) => toEntry(record, output));
  }

  /** Cells whose input matches a glob (`*`, `?`, `[...]`, whole input), the last `n` of them. */
  search(pattern: string, n: number | null, unique: boolean, output: boolean): HistoryEntry[] {
    const matcher = globToRegExp(pattern);
    let matches = this.#records.filter((record) => matcher.test(record.input));
    if (unique) {
      const seen = new Set<string>();
      // Keep the latest occurrence of each input.
      matches = matches.reverse().filter((record) => !seen.has(record.input) && seen.add(record.input) !== undefined).reverse();
    }
    if (n !== null) matches = n === 0 ? [] : matches.slice(-n);
    return matches.map((record) => toEntry(record, output));
  }

  /** Waits for every record so far to reach the file. */
  async flush(): Promise<void> {
    this.#writeNow?.();
    while (this.#writing !== undefined) await this.#writing;
  }

  /** Flushes pending writes and closes the file. Idempotent; records added later are still written. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch((error: unknown) => this.#log(`history: cannot close ${this.#file}: ${(error as Error).message}`));
  }

  #append(record: HistoryRecord): void {
    this.#unwritten.push(`${JSON.stringify(record)}\n`);
    this.#writing ??= this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    // Never inside the turn that added the record (it comes just before the cell's reply and idle
    // status), and batched over writeDelayMs.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#writeDelayMs);
      this.#writeNow = () => {
        clearTimeout(timer);
        setImmediate(resolve);
      };
    });
    this.#writeNow = undefined;
    try {
      while (this.#unwritten.length > 0) {
        const batch = this.#unwritten.join("");
        this.#unwritten = [];
        try {
          await this.#write(batch);
        } catch (error) {
          this.#log(`history: cannot append to ${this.#file}: ${(error as Error).message}`);
          const handle = this.#handle;
          this.#handle = undefined;
          await handle?.close().catch(() => undefined);
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }

  async #write(batch: string): Promise<void> {
    if (this.#closed) {
      // After close() nothing may stay open: one open, write and close per batch.
      await appendFile(this.#file, batch);
      return;
    }
    this.#handle ??= await open(this.#file, "a");
    // appendFile on the handle loops until every byte is written.
    await this.#handle.appendFile(batch);
  }
}

function parseRecord(line: string): HistoryRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isJsonObject(value)) return undefined;
  const { session, line: lineNumber, input, output } = value;
  if (typeof session !== "number" || typeof lineNumber !== "number" || typeof input !== "string") return undefined;
  if (output !== null && typeof output !== "string") return undefined;
  return { session, line: lineNumber, input, output };
}

function toEntry(record: HistoryRecord, output: boolean): HistoryEntry {
  return output ? [record.session, record.line, [record.input, record.output]] : [record.session, record.line, record.input];
}

/** Translates a glob (as sqlite's GLOB, which IPython uses) into an anchored RegExp. */
export function globToRegExp(pattern: string): RegExp {
  let source = "";
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index] as string;
    if (char === "*") source += "[\\s\\S]*";
    else if (char === "?") source += "[\\s\\S]";
    else if (char === "[") {
      const end = pattern.indexOf("]", index + 2);
      if (end < 0) source += "\\[";
      else {
        const body = pattern.slice(index + 1, end);
        source += `[${body.startsWith("^") ? `^${body.slice(1).replace(/\\/g, "\\\\")}` : body.replace(/\\/g, "\\\\")}]`;
        index = end;
      }
    } else source += char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}
