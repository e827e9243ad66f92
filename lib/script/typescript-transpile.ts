/**
 * The slow path for TypeScript that sucrase does not compile: runtime namespaces (`namespace Geo {
 * export const pi = 3.14 }`, which sucrase drops without a word) and, where tsconfig asks for them,
 * legacy decorators. TypeScript's own transpileModule, loaded when such a cell first runs. Its
 * output keeps the cell's statements but not always its line breaks: a traceback's line inside
 * such a cell can be off.
 */
import { createRequire } from "node:module";

type TranspileModule = (source: string, options: { compilerOptions: Record<string, unknown>; reportDiagnostics?: boolean }) => { outputText: string };

let transpile: TranspileModule | undefined;

/** A namespace with a body, not `declare`d: code that sucrase would drop. */
export const runtimeNamespace = /(?:^|[;{}])\s*(?:export\s+)?(?:namespace|module)\s+[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*\s*\{/m;

/** Transpiles TypeScript to JavaScript with ES module syntax (ES2022). */
export function transpileWithTypeScript(source: string, options: { experimentalDecorators?: boolean; emitDecoratorMetadata?: boolean; noEmitHelpers?: boolean } = {}): string {
  if (!transpile) {
    const require = createRequire(import.meta.url);
    const typescript = require("typescript") as { transpileModule: TranspileModule };
    transpile = typescript.transpileModule;
  }
  return transpile(source, {
    compilerOptions: {
      target: 9 /* ES2022 */,
      module: 99 /* ESNext */,
      experimentalDecorators: options.experimentalDecorators ?? false,
      emitDecoratorMetadata: options.emitDecoratorMetadata ?? false,
      noEmitHelpers: options.noEmitHelpers ?? false,
      verbatimModuleSyntax: false,
      useDefineForClassFields: false,
    },
  }).outputText;
}
