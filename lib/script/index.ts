/** TypeScript cells compiled for a persistent global scope, shared by the kernel and `%%workers`. */
export { compileCell, cellPositionMapper, compiledSnippetPosition, lineColumnAt, aliasImportExpressions, CellSyntaxError, type CompileCellOptions, type CompiledCell } from "./compile-cell.js";
export { bundledAliases, bundledFallbacks, bundledTypePaths, type BundledPackage } from "./bundled-packages.js";
export { runCompiledCell, compileScript, type RunCellOptions, type CellCompletion } from "./run-cell.js";
export { CellSources, threadCellSources, type MapperFactory, type PositionMapper, type SnippetLocator } from "./cell-sources.js";
