/**
 * The sources of the cells a thread ran, by name (`In[3]`, or `workers-cell-2` for a `%%workers`
 * cell sent to a cluster), so that stack frames of compiled cells can be written with the
 * TypeScript source's line and column, also for errors that come long after the cell ran (a timer,
 * a training callback) or from a worker.
 */
import type { CompileCellOptions } from "./compile-cell.js";

/** Maps a compiled cell's (line, column) to its source's (see compile-cell's cellPositionMapper). */
export type PositionMapper = (line: number, column: number) => { line: number; column: number };

/**
 * Makes a cell's position mapper: compile-cell's `cellPositionMapper`, passed by whoever maps, so
 * that recording a cell (a cluster sending one) does not load the cell compiler.
 */
export type MapperFactory = (source: string, options: CompileCellOptions) => PositionMapper;

/** Finds something in a cell's source (compiled with its options): a 1-based position, or undefined. */
export type SnippetLocator = (source: string, options: CompileCellOptions) => { line: number; column: number } | undefined;

/** Cells whose sources are kept (a few hundred bytes each; the oldest go first). */
const DEFAULT_MAX_CELLS = 10_000;

export class CellSources {
  readonly #sources = new Map<string, { source: string; options: CompileCellOptions; mapper?: PositionMapper }>();
  readonly #maxCells: number;

  constructor(maxCells = DEFAULT_MAX_CELLS) {
    this.#maxCells = maxCells;
  }

  /** Records the source a cell name was compiled from (a name run again replaces it). */
  record(name: string, source: string, options: CompileCellOptions): void {
    this.#sources.delete(name);
    this.#sources.set(name, { source, options });
    if (this.#sources.size > this.#maxCells) {
      const oldest = this.#sources.keys().next();
      if (oldest.done !== true) this.#sources.delete(oldest.value);
    }
  }

  /** The source position of a compiled cell's position, or undefined for an unknown cell. */
  originalPosition(name: string, line: number, column: number, mapperFor: MapperFactory): { line: number; column: number } | undefined {
    const entry = this.#sources.get(name);
    if (entry === undefined) return undefined;
    try {
      entry.mapper ??= mapperFor(entry.source, entry.options);
      return entry.mapper(line, column);
    } catch {
      // The source compiled once; if mapping fails anyway, the compiled position is the best left.
      return undefined;
    }
  }

  /**
   * The newest of the last `maxCells` recorded cells in which `locate` finds something (a task
   * function's text), with that position. Used only when an error needs it.
   */
  find(locate: SnippetLocator, maxCells = 100): { name: string; line: number; column: number } | undefined {
    const names = [...this.#sources.keys()].reverse().slice(0, maxCells);
    for (const name of names) {
      const entry = this.#sources.get(name);
      if (entry === undefined) continue;
      try {
        const position = locate(entry.source, entry.options);
        if (position !== undefined) return { name, ...position };
      } catch {
        // A cell that no longer compiles (its options changed) holds nothing to find.
      }
    }
    return undefined;
  }
}

/** This thread's cells: the kernel's cell thread records its cells, and a cluster the cells it sends. */
export const threadCellSources = new CellSources();
