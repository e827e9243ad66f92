/** TypeScript cells compiled for a persistent global scope, shared by the kernel and `%%workers`. */
export { compileCell, cellPositionMapper, lineColumnAt, CellSyntaxError, type CompileCellOptions, type CompiledCell } from "./compile-cell.js";
export { runCompiledCell, compileScript, type RunCellOptions, type CellCompletion } from "./run-cell.js";
export { CellSources } from "./cell-sources.js";
