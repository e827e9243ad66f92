/**
 * The checks the editor asked for lately (the `ringbook.diagnostics` comm), kept on the kernel's
 * main thread so that running a cell that was checked as it was typed takes its diagnostics from
 * here: no second request to the language worker on the cell's path, and a run that comes while
 * the editor's check is still under way joins that check instead of starting another.
 *
 * A check answers for one text after a given number of committed cells; once another cell is
 * committed, every kept check is stale and is dropped.
 */
import type { CellDiagnostic } from "./protocol.js";

/** How many different texts are kept: the cells a user edits between two runs. */
const keptTexts = 8;

/** Recent checks of edited cells, by text, for the current number of committed cells. */
export class RecentChecks {
  #contextCells = 0;
  readonly #checks = new Map<string, Promise<CellDiagnostic[]>>();

  /** Keeps `check` of `code` made after `contextCells` committed cells (ignored if stale). */
  remember(code: string, contextCells: number, check: Promise<CellDiagnostic[]>): void {
    if (contextCells !== this.#contextCells) return;
    // Re-inserted last, so the oldest text is the first one dropped.
    this.#checks.delete(code);
    this.#checks.set(code, check);
    // A failed check is not an answer: the cell's run asks the language worker again.
    check.catch(() => {
      if (this.#checks.get(code) === check) this.#checks.delete(code);
    });
    if (this.#checks.size > keptTexts) {
      const oldest = this.#checks.keys().next();
      if (oldest.done !== true) this.#checks.delete(oldest.value);
    }
  }

  /** The kept check of `code` after `contextCells` committed cells, if any. */
  find(code: string, contextCells: number): Promise<CellDiagnostic[]> | undefined {
    return contextCells === this.#contextCells ? this.#checks.get(code) : undefined;
  }

  /** Another cell was committed: every kept check is stale. */
  committed(contextCells: number): void {
    this.#contextCells = contextCells;
    this.#checks.clear();
  }
}
