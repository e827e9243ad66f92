/** What both type checkers (native and classic) leave out of a cell's errors, and how they place them. */

/** Diagnostics that the notebook's execution model makes wrong. */
export const ignoredDiagnostics: ReadonlySet<number> = new Set([
  2451, // redeclare block-scoped variable: later cells may redeclare
  2300, // duplicate identifier: same reason
  1375, // top-level await outside a module
  1378, // top-level await target
  1208, // isolatedModules: file is not a module
  2393, // duplicate function implementation
  2632, // cannot assign to an import: a name from an earlier cell, which cells may assign
  2630, // cannot assign to a function: the same, for a function an earlier cell declared
]);

/** 1-based line and column of an offset in a cell. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - (before.lastIndexOf("\n") + 1) + 1 };
}

/** The 1-based range of `length` characters at `offset` in a cell (an empty range at least one wide). */
export function cellRange(text: string, offset: number, length: number): { line: number; column: number; endLine: number; endColumn: number } {
  const start = lineColumn(text, offset);
  // Clamped to the cell: an error at its very end (a missing token) has nothing after it to cover.
  const end = lineColumn(text, Math.min(text.length, offset + Math.max(length, 0)));
  return { line: start.line, column: start.column, endLine: end.line, endColumn: end.column };
}
