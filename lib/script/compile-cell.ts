/**
 * Turns one notebook cell of TypeScript into a script that runs in the global scope of the
 * current realm, where top-level declarations become globals so that later cells see them and may
 * declare them again. Knows nothing of Jupyter: the cluster's `%%workers` magic reuses it.
 *
 * Pipeline: sucrase strips types (fast: no `typescript` load), acorn parses the JavaScript, and
 * small in-place edits rewrite top-level declarations, imports and the last expression. Every edit
 * keeps the line count, so stack traces point at the cell's own lines.
 */
import { transform, type Options as SucraseOptions } from "sucrase";
import * as acorn from "acorn";
import { decode } from "@jridgewell/sourcemap-codec";
import { RingbookError } from "../errors.js";
import { runtimeNamespace, transpileWithTypeScript } from "./typescript-transpile.js";

/** How to compile a cell. */
export interface CompileCellOptions {
  /**
   * Import specifiers replaced before resolution (e.g. `"tslab"` → a file URL of the shim).
   * @default {}
   */
  moduleAliases?: Readonly<Record<string, string>>;
  /**
   * JSX handling from tsconfig's `jsx`; `undefined` leaves JSX unsupported.
   * @default undefined
   */
  jsx?: { runtime: "classic" | "automatic"; factory?: string; fragmentFactory?: string; importSource?: string };
  /**
   * Fallback for syntax sucrase cannot remove (legacy decorators): a full TypeScript transpile
   * that must keep lines and emit ES modules syntax. Called only when the fast path fails, and
   * for runtime namespaces (TypeScript's plain transpile without it).
   */
  fallbackTranspile?: (source: string) => string;
}

/** A compiled cell, ready for {@link runCompiledCell}. */
export interface CompiledCell {
  /** A script whose completion value is an async function; its promise gives `{ value }` (the last expression) or `undefined`. */
  code: string;
  /** Names the cell declares at top level; they must exist on `globalThis` before it runs. */
  declaredNames: string[];
  /** Lines the wrapper adds before the cell's first line (run with `lineOffset: -lineOffset`). */
  lineOffset: number;
}

/** A cell that does not parse; `line`/`column` are 1-based positions in the cell. */
export class CellSyntaxError extends RingbookError {
  readonly line: number;
  readonly column: number;
  constructor(message: string, line: number, column: number, options?: { cause?: unknown }) {
    super("CELL_SYNTAX", message, options);
    this.line = line;
    this.column = column;
  }
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

const WRAPPER_START = '(async () => {"use strict";';
const WRAPPER_END = "\n})";

/**
 * Compiles a TypeScript cell. Throws {@link CellSyntaxError} for code that does not parse.
 * @example
 * const compiled = compileCell("const x: number = 1\nx + 1");
 * const { value } = await runCompiledCell(compiled, { filename: "/notebooks/In[1]" });
 */
export function compileCell(source: string, options: CompileCellOptions = {}): CompiledCell {
  return compileWithEdits(stripTypes(source, options).javascript, options).compiled;
}

/**
 * Maps positions in a compiled cell (as V8 reports them for its script: 1-based line and column,
 * lines counted from the cell's first line) back to the TypeScript source: sucrase's token map
 * undoes the type stripping, the recorded edits undo the rewrites. Computed again from the source
 * only when an error needs it, so that running a cell pays nothing for it.
 *
 * @example
 * const positionIn = cellPositionMapper("const n: number = 1;\nnope", {});
 * positionIn(2, 1); // { line: 2, column: 1 }
 */
export function cellPositionMapper(source: string, options: CompileCellOptions = {}): (line: number, column: number) => { line: number; column: number } {
  const { javascript, lineMaps } = stripTypes(source, options, true);
  const { body, edits } = compileWithEdits(javascript, options);
  const bodyLines = lineStarts(body);
  const declarationPositions = initializerPositions(javascript);
  return (line, column) => {
    const bodyOffset = (bodyLines[line - 1] ?? body.length) + column - 1;
    const edited = undoEdits(bodyOffset, edits);
    const javascriptOffset = declarationPositions.get(edited) ?? edited;
    const position = lineColumnAt(javascript, javascriptOffset);
    const segments = lineMaps?.[position.line - 1];
    if (segments === undefined || segments.length === 0) return position;
    // The last token starting at or before the column; offsets within a token are unchanged.
    let segment = segments[0];
    for (const candidate of segments) if ((candidate[0] ?? 0) <= position.column - 1) segment = candidate;
    const generatedColumn = segment?.[0] ?? 0;
    const sourceLine = segment?.[2] ?? position.line - 1;
    const sourceColumn = segment?.[3] ?? generatedColumn;
    return { line: sourceLine + 1, column: sourceColumn + (position.column - 1 - generatedColumn) + 1 };
  };
}

/**
 * Where `snippet` (a function's text as V8 gives it back: `fn.toString()` of a function a cell
 * defined) starts in the compiled cell, in the coordinates {@link cellPositionMapper} takes, or
 * undefined when the compiled cell does not contain it. Lets a task function's frames on a worker
 * be written as positions in the cell that defined it.
 */
export function compiledSnippetPosition(source: string, options: CompileCellOptions, snippet: string): { line: number; column: number } | undefined {
  if (snippet === "") return undefined;
  const { body } = compileWithEdits(stripTypes(source, options).javascript, options);
  const offset = body.indexOf(snippet);
  return offset < 0 ? undefined : lineColumnAt(body, offset);
}

/**
 * Top-level declarations run as assignments (`const a = f(x)` as `;(    a = f(x))`), for which V8
 * reports an error in the initializer's first operand at the assignment (the statement, or the `=`
 * of a later declarator); for the declaration as written it reports the initializer. Maps the
 * former to the latter.
 */
function initializerPositions(javascript: string): Map<number, number> {
  const positions = new Map<number, number>();
  const program = acorn.parse(javascript, { ecmaVersion: "latest", sourceType: "module", allowAwaitOutsideFunction: true, allowHashBang: true });
  for (const node of program.body) {
    const statement = node.type === "ExportNamedDeclaration" && node.declaration ? node.declaration : node;
    if (statement.type !== "VariableDeclaration") continue;
    statement.declarations.forEach((declarator, index) => {
      if (!declarator.init) return;
      // The first is reported at the statement, later ones at their `=` (or name).
      if (index === 0) positions.set(statement.start, declarator.init.start);
      positions.set(declarator.start, declarator.init.start);
      const equals = javascript.indexOf("=", declarator.id.end);
      if (equals >= 0 && equals < declarator.init.start) positions.set(equals, declarator.init.start);
    });
  }
  return positions;
}

function compileWithEdits(javascript: string, options: CompileCellOptions): { compiled: CompiledCell; body: string; edits: Edit[] } {
  let program: acorn.Program;
  try {
    program = acorn.parse(javascript, {
      ecmaVersion: "latest",
      sourceType: "module",
      allowAwaitOutsideFunction: true,
      allowHashBang: true,
      locations: false,
    });
  } catch (error) {
    throw toSyntaxError(error, javascript);
  }
  const edits: Edit[] = [];
  const declared = new Set<string>();
  const hoistedFunctions: string[] = [];
  const aliases = options.moduleAliases ?? {};
  const statements = program.body;
  statements.forEach((statement, index) => {
    rewriteStatement(statement, javascript, edits, declared, hoistedFunctions, aliases, index === statements.length - 1);
  });
  if (dynamicImport.test(javascript)) aliasDynamicImports(program, edits, aliases);
  const prelude = hoistedFunctions.map((name) => `globalThis[${JSON.stringify(name)}] = ${name};`).join("");
  // The wrapper and the exports of hoisted functions take a line of their own, so that the
  // cell's lines stay exact in stack traces (columns: see cellPositionMapper).
  const body = applyEdits(javascript, edits);
  const code = WRAPPER_START + prelude + "\n" + body + WRAPPER_END;
  return { compiled: { code, declaredNames: [...declared], lineOffset: 1 }, body, edits };
}

/** Per line of the stripped JavaScript: [generated column, source index, source line, source column] segments. */
type LineMaps = number[][][];

function stripTypes(source: string, options: CompileCellOptions, withMap = false): { javascript: string; lineMaps?: LineMaps } {
  const sucraseOptions: SucraseOptions = {
    transforms: options.jsx ? ["typescript", "jsx"] : ["typescript"],
    disableESTransforms: true,
    keepUnusedImports: true,
    preserveDynamicImport: true,
  };
  if (options.jsx) {
    sucraseOptions.jsxRuntime = options.jsx.runtime;
    if (options.jsx.factory) sucraseOptions.jsxPragma = options.jsx.factory;
    if (options.jsx.fragmentFactory) sucraseOptions.jsxFragmentPragma = options.jsx.fragmentFactory;
    if (options.jsx.importSource) sucraseOptions.jsxImportSource = options.jsx.importSource;
  }
  if (withMap) {
    sucraseOptions.sourceMapOptions = { compiledFilename: "cell.js" };
    sucraseOptions.filePath = "cell.ts";
  }
  try {
    // Sucrase drops a runtime namespace's code without a word, and keeps legacy decorators:
    // TypeScript compiles such cells. Its output keeps lines but not columns: positions then map
    // through the edits only.
    if (runtimeNamespace.test(source)) return { javascript: (options.fallbackTranspile ?? transpileWithTypeScript)(source) };
    if (options.fallbackTranspile && /^\s*@[A-Za-z_$]/m.test(source)) return { javascript: options.fallbackTranspile(source) };
    const output = transform(source, sucraseOptions);
    return output.sourceMap === undefined ? { javascript: output.code } : { javascript: output.code, lineMaps: decode(output.sourceMap.mappings) };
  } catch (error) {
    if (options.fallbackTranspile) {
      try {
        return { javascript: options.fallbackTranspile(source) };
      } catch {
        // Report sucrase's error below: it names the position.
      }
    }
    throw toSyntaxError(error, source);
  }
}

function toSyntaxError(error: unknown, text: string): CellSyntaxError {
  const message = error instanceof Error ? error.message : String(error);
  let position: number | undefined;
  if (typeof error === "object" && error !== null) {
    const record = error as { pos?: unknown };
    if (typeof record.pos === "number") position = record.pos;
  }
  const { line, column } = position === undefined ? { line: 1, column: 1 } : lineColumnAt(text, position);
  const clean = message.replace(/\s*\(\d+:\d+\)$/, "");
  return new CellSyntaxError(`${clean} (line ${line}:${column})`, line, column, { cause: error });
}

/** 1-based line and column of an offset. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function rewriteStatement(
  statement: acorn.Statement | acorn.ModuleDeclaration,
  text: string,
  edits: Edit[],
  declared: Set<string>,
  hoistedFunctions: string[],
  aliases: Readonly<Record<string, string>>,
  isLast: boolean,
): void {
  switch (statement.type) {
    case "ImportDeclaration":
      rewriteImport(statement, text, edits, declared, aliases);
      return;
    case "VariableDeclaration":
      rewriteVariables(statement, edits, declared);
      return;
    case "FunctionDeclaration":
      if (statement.id) {
        declared.add(statement.id.name);
        hoistedFunctions.push(statement.id.name);
      }
      return;
    case "ClassDeclaration":
      if (statement.id) {
        declared.add(statement.id.name);
        edits.push({ start: statement.start, end: statement.start, text: `;${statement.id.name} = ` });
        edits.push({ start: statement.end, end: statement.end, text: ";" });
      }
      return;
    case "ExportNamedDeclaration":
      if (statement.declaration) {
        blank(edits, text, statement.start, statement.declaration.start);
        rewriteStatement(statement.declaration, text, edits, declared, hoistedFunctions, aliases, isLast);
      } else {
        blank(edits, text, statement.start, statement.end);
      }
      return;
    case "ExportDefaultDeclaration": {
      const declaration = statement.declaration;
      if ((declaration.type === "FunctionDeclaration" || declaration.type === "ClassDeclaration") && declaration.id) {
        blank(edits, text, statement.start, declaration.start);
        rewriteStatement(declaration, text, edits, declared, hoistedFunctions, aliases, isLast);
      } else {
        // Only the keywords go: the expression may start with a parenthesis outside its node.
        const keywords = /^export\s+default\s*/.exec(text.slice(statement.start, declaration.start))?.[0].length ?? 0;
        blank(edits, text, statement.start, statement.start + keywords);
        if (isLast) returnValue(statement.start + keywords, statementEnd(statement, text), edits);
      }
      return;
    }
    case "ExportAllDeclaration":
      blank(edits, text, statement.start, statement.end);
      return;
    case "ExpressionStatement":
      // The statement's range, not the expression's: parentheses around it are outside the node.
      if (isLast) returnValue(statement.start, statementEnd(statement, text), edits);
      return;
    default:
      return;
  }
}

/** End of a statement without its semicolon. */
function statementEnd(statement: acorn.Node, text: string): number {
  return text[statement.end - 1] === ";" ? statement.end - 1 : statement.end;
}

function returnValue(start: number, end: number, edits: Edit[]): void {
  // `(0, …)`: an anonymous function or class as the last expression keeps no name, as in Node's
  // REPL; as a property's value it would be named "value".
  edits.push({ start, end: start, text: ";return { value: (0, (" });
  edits.push({ start: end, end, text: ")) };" });
}

function rewriteImport(
  statement: acorn.ImportDeclaration,
  text: string,
  edits: Edit[],
  declared: Set<string>,
  aliases: Readonly<Record<string, string>>,
): void {
  const specifier = String(statement.source.value);
  const target = aliases[specifier] ?? specifier;
  const attributes = statement.attributes ?? [];
  const withClause =
    attributes.length > 0
      ? `, { with: { ${attributes.map((a) => `${JSON.stringify(keyName(a.key))}: ${JSON.stringify(String(a.value.value))}`).join(", ")} } }`
      : "";
  const load = `await import(${JSON.stringify(target)}${withClause})`;
  const named: string[] = [];
  let namespace: string | undefined;
  for (const spec of statement.specifiers) {
    declared.add(spec.local.name);
    if (spec.type === "ImportNamespaceSpecifier") namespace = spec.local.name;
    else if (spec.type === "ImportDefaultSpecifier") named.push(`default: ${spec.local.name}`);
    else named.push(`${JSON.stringify(keyName(spec.imported))}: ${spec.local.name}`);
  }
  let replacement: string;
  if (namespace !== undefined) {
    replacement = `;${namespace} = ${load};` + (named.length > 0 ? `({ ${named.join(", ")} } = ${namespace});` : "");
  } else if (named.length > 0) {
    replacement = `;({ ${named.join(", ")} } = ${load});`;
  } else {
    replacement = `;${load};`;
  }
  replaceKeepingLines(edits, text, statement.start, statement.end, replacement);
}

/** Most cells and tasks have no `import(...)`: their tree is not walked. */
const dynamicImport = /\bimport\s*\(/;

/** `import("x")` anywhere in the code, with a literal `x` that has an alias: the literal becomes the alias. */
function aliasDynamicImports(program: acorn.Program, edits: Edit[], aliases: Readonly<Record<string, string>>): void {
  for (const expression of importExpressions(program)) {
    const source = expression.source;
    if (source.type !== "Literal" || typeof source.value !== "string") continue;
    const target = aliases[source.value];
    if (target !== undefined) edits.push({ start: source.start, end: source.end, text: JSON.stringify(target) });
  }
}

/** Every `import(...)` expression under `node`. */
function importExpressions(node: acorn.Node): acorn.ImportExpression[] {
  const found: acorn.ImportExpression[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
    } else if (isNode(value)) {
      if (value.type === "ImportExpression") found.push(value as acorn.ImportExpression);
      for (const child of Object.values(value)) if (typeof child === "object" && child !== null) visit(child);
    }
  };
  visit(node);
  return found;
}

function isNode(value: unknown): value is acorn.Node {
  return typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string";
}

/**
 * A function's source (a task sent to workers) with the literal specifiers of its `import(...)`
 * expressions replaced by their aliases. Source that does not parse is returned as it is: running
 * it reports the syntax error.
 */
export function aliasImportExpressions(source: string, aliases: Readonly<Record<string, string>>): string {
  if (!dynamicImport.test(source)) return source;
  const wrapped = `(${source}\n)`;
  let program: acorn.Program;
  try {
    program = acorn.parse(wrapped, { ecmaVersion: "latest", sourceType: "script" });
  } catch {
    return source;
  }
  const edits: Edit[] = [];
  aliasDynamicImports(program, edits, aliases);
  return applyEdits(wrapped, edits).slice(1, -2);
}

function keyName(node: acorn.Identifier | acorn.Literal): string {
  return node.type === "Identifier" ? node.name : String(node.value);
}

function rewriteVariables(statement: acorn.VariableDeclaration, edits: Edit[], declared: Set<string>): void {
  // `const a = 1, { b } = o;` → `;(  a = 1, ({ b } = o));` on the same lines.
  edits.push({ start: statement.start, end: statement.start + statement.kind.length, text: ";(".padEnd(statement.kind.length, " ") });
  for (const declarator of statement.declarations) {
    collectPatternNames(declarator.id, declared);
    const isPattern = declarator.id.type !== "Identifier";
    if (isPattern) edits.push({ start: declarator.start, end: declarator.start, text: "(" });
    if (!declarator.init) edits.push({ start: declarator.id.end, end: declarator.id.end, text: " = undefined" });
    if (isPattern) edits.push({ start: declarator.end, end: declarator.end, text: ")" });
  }
  const last = statement.declarations[statement.declarations.length - 1];
  const end = last ? last.end : statement.start + statement.kind.length;
  edits.push({ start: end, end, text: ");" });
}

function collectPatternNames(pattern: acorn.Pattern, names: Set<string>): void {
  switch (pattern.type) {
    case "Identifier":
      names.add(pattern.name);
      return;
    case "ObjectPattern":
      for (const property of pattern.properties) {
        collectPatternNames(property.type === "RestElement" ? property.argument : property.value, names);
      }
      return;
    case "ArrayPattern":
      for (const element of pattern.elements) if (element) collectPatternNames(element, names);
      return;
    case "RestElement":
      collectPatternNames(pattern.argument, names);
      return;
    case "AssignmentPattern":
      collectPatternNames(pattern.left, names);
      return;
    case "MemberExpression":
      return;
    default: {
      const never: never = pattern;
      throw new RingbookError("CELL_PATTERN", `unexpected binding pattern ${JSON.stringify(never)}`);
    }
  }
}

function blank(edits: Edit[], text: string, start: number, end: number): void {
  replaceKeepingLines(edits, text, start, end, "");
}

/** Replaces a range, then pads with the newlines the range held so later lines keep their numbers. */
function replaceKeepingLines(edits: Edit[], text: string, start: number, end: number, replacement: string): void {
  const newlines = text.slice(start, end).split("\n").length - 1;
  edits.push({ start, end, text: replacement + "\n".repeat(newlines) });
}

/** Offsets where each line starts. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** The offset in the text before {@link applyEdits} of an offset after it (inserted text maps to its edit's start). */
function undoEdits(offset: number, edits: Edit[]): number {
  let input = 0;
  let output = 0;
  for (const edit of sortedEdits(edits)) {
    if (edit.start < input) continue;
    const kept = edit.start - input;
    if (offset < output + kept) return input + (offset - output);
    output += kept;
    if (offset < output + edit.text.length) return edit.start;
    output += edit.text.length;
    input = edit.end;
  }
  return input + (offset - output);
}

function sortedEdits(edits: Edit[]): Edit[] {
  // Stable sort keeps insertion order for edits at the same offset.
  return edits
    .map((edit, order) => ({ edit, order }))
    .sort((a, b) => a.edit.start - b.edit.start || a.order - b.order)
    .map(({ edit }) => edit);
}

function applyEdits(text: string, edits: Edit[]): string {
  let out = "";
  let cursor = 0;
  for (const edit of sortedEdits(edits)) {
    if (edit.start < cursor) continue;
    out += text.slice(cursor, edit.start) + edit.text;
    cursor = edit.end;
  }
  return out + text.slice(cursor);
}
