/** TypeScript cells compiled for a persistent global scope, shared by the kernel and `%%workers`. */
export { compileCell, lineColumnAt, CellSyntaxError, type CompileCellOptions, type CompiledCell } from "./compile-cell.js";
export { runCompiledCell, compileScript, type RunCellOptions, type CellCompletion } from "./run-cell.js";
