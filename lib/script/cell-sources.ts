/**
 * The sources of the cells a thread ran, by name (`In[3]`), so that stack frames of compiled cells
 * can be written with the TypeScript source's line and column, also for errors that come long after
 * the cell ran (a timer, a training callback).
 */
import { cellPositionMapper, type CompileCellOptions } from "./compile-cell.js";

type PositionMapper = ReturnType<typeof cellPositionMapper>;

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
  originalPosition(name: string, line: number, column: number): { line: number; column: number } | undefined {
    const entry = this.#sources.get(name);
    if (entry === undefined) return undefined;
    try {
      entry.mapper ??= cellPositionMapper(entry.source, entry.options);
      return entry.mapper(line, column);
    } catch {
      // The source compiled once; if mapping fails anyway, the compiled position is the best left.
      return undefined;
    }
  }
}
