/**
 * Runs a {@link CompiledCell} in the current realm's global scope. Dynamic imports in the cell
 * resolve like imports of a module at `filename` (so `filename` should sit in the notebook's folder:
 * its node_modules, relative files and `node:` builtins are then found).
 */
import vm from "node:vm";
import type { CompiledCell } from "./compile-cell.js";

/** Where the cell "lives", for import resolution and stack traces. */
export interface RunCellOptions {
  /** An absolute path such as `/home/me/notebooks/In[3]`. */
  filename: string;
}

/** What a cell produced: `value` is its last expression, not awaited; absent when it had none. */
export type CellCompletion = { value: unknown } | undefined;

/** Makes `import()` in the script use Node's own ESM loader, relative to `filename` (Node >= 20.12). */
const defaultLoader = vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER;

/** V8's script for a compiled cell, not run (runCompiledCell runs it; a warm-up only compiles). */
export function compileScript(compiled: CompiledCell, options: RunCellOptions): vm.Script {
  return new vm.Script(compiled.code, {
    filename: options.filename,
    lineOffset: -compiled.lineOffset,
    importModuleDynamically: defaultLoader,
  });
}

/**
 * Starts a compiled cell: declares its names on `globalThis` (as `undefined` when new), then runs
 * it. The synchronous part runs before this returns; the promise settles when the cell's top-level
 * awaits are done.
 */
export function runCompiledCell(compiled: CompiledCell, options: RunCellOptions): Promise<CellCompletion> {
  const globals = globalThis as Record<string, unknown>;
  for (const name of compiled.declaredNames) {
    if (!(name in globals)) globals[name] = undefined;
  }
  const script = compileScript(compiled, options);
  // The script evaluates to the cell's async function; calling it here keeps the call frame out of
  // the cell's lines (tracebacks end at the cell's last line).
  const cell = script.runInThisContext() as () => Promise<CellCompletion>;
  return cell();
}
