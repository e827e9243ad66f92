/**
 * TypeScript's in-process LanguageService (TypeScript 6.0, classic API) over the notebook module:
 * completions, quick info, and the type errors of the cell being edited where the native checker
 * cannot run, with the kernel's globals (`display`, `input`, `comms`) and modules (`ringbook`,
 * `ringbook/display`, `tslab`) declared.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import type * as ts from "typescript";
import type { CompleteResult, InspectResult } from "./protocol.js";
import { NotebookModule } from "./notebook-module.js";
import { TextSnapshot } from "./text-snapshot.js";
import type { CellDiagnostic, LanguageWorkerConfig } from "./protocol.js";
import { cellRange, ignoredDiagnostics } from "./diagnostic-filter.js";
import { globalsDeclarations, ringbookTypePaths } from "./notebook-globals.js";
import { bundledTypePaths } from "../../lib/script/bundled-packages.js";

/** TypeScript's internal region check (5.6+; not in its .d.ts): only the nodes in `ranges`. */
type RegionDiagnostics = (fileName: string, ranges: ts.TextRange[]) => { diagnostics: ts.Diagnostic[] } | undefined;

/** The language service of one notebook. */
export class NotebookLanguageService {
  readonly #ts: typeof ts;
  readonly #service: ts.LanguageService;
  readonly #model: NotebookModule;
  readonly #notebookFile: string;
  readonly #globalsFile: string;
  readonly #globalsText: string;
  readonly #snapshots = new Map<string, ts.IScriptSnapshot>();
  readonly #regionDiagnostics: RegionDiagnostics | undefined;
  #notebook: TextSnapshot;
  #version = 0;

  constructor(config: LanguageWorkerConfig) {
    const require = createRequire(import.meta.url);
    const typescript = require("typescript") as typeof ts;
    this.#ts = typescript;
    const options = compilerOptions(typescript, config);
    const jsx = options.jsx !== undefined && options.jsx !== typescript.JsxEmit.None;
    this.#model = new NotebookModule(typescript, jsx ? typescript.ScriptKind.TSX : typescript.ScriptKind.TS);
    this.#notebookFile = join(config.cwd, jsx ? "__ringbook_notebook__.tsx" : "__ringbook_notebook__.ts");
    this.#globalsFile = join(config.cwd, "__ringbook_globals__.d.ts");
    this.#globalsText = globalsDeclarations(config.packageRoot);
    const host: ts.LanguageServiceHost = {
      getScriptFileNames: () => [this.#notebookFile, this.#globalsFile],
      getScriptVersion: (file) => (file === this.#notebookFile ? String(this.#version) : "1"),
      getScriptSnapshot: (file) => this.#snapshot(file),
      getCurrentDirectory: () => config.cwd,
      getCompilationSettings: () => options,
      getDefaultLibFileName: (settings) => typescript.getDefaultLibFilePath(settings),
      fileExists: (file) => file === this.#notebookFile || file === this.#globalsFile || typescript.sys.fileExists(file),
      readFile: (file) => typescript.sys.readFile(file),
      readDirectory: (...args) => typescript.sys.readDirectory(...args),
      directoryExists: (directory) => typescript.sys.directoryExists(directory),
      getDirectories: (directory) => typescript.sys.getDirectories(directory),
    };
    this.#notebook = new TextSnapshot(typescript, "");
    this.#service = typescript.createLanguageService(host, typescript.createDocumentRegistry());
    const region: unknown = (this.#service as unknown as Record<string, unknown>)["getRegionSemanticDiagnostics"];
    this.#regionDiagnostics = typeof region === "function" ? (region as RegionDiagnostics).bind(this.#service) : undefined;
  }

  commit(code: string): void {
    this.#model.commit(code);
  }

  /** Type errors of `code` run after the first `contextCells` committed cells (default: all). */
  diagnose(code: string, contextCells?: number): CellDiagnostic[] {
    const { cellStart, cellEnd } = this.#load(code, contextCells);
    // Checking only the cell's nodes keeps a check from growing with the notebook; TypeScript
    // answers undefined when it cannot (then the whole module is checked).
    const semantic =
      (code.trim() === "" ? undefined : this.#regionDiagnostics?.(this.#notebookFile, [{ pos: cellStart, end: cellEnd }])?.diagnostics) ??
      this.#service.getSemanticDiagnostics(this.#notebookFile);
    const all = [...this.#service.getSyntacticDiagnostics(this.#notebookFile), ...semantic];
    const diagnostics: CellDiagnostic[] = [];
    for (const diagnostic of all) {
      if (diagnostic.start === undefined || diagnostic.start < cellStart || diagnostic.start > cellEnd) continue;
      if (diagnostic.category !== this.#ts.DiagnosticCategory.Error || ignoredDiagnostics.has(diagnostic.code)) continue;
      const range = cellRange(code, diagnostic.start - cellStart, diagnostic.length ?? 0);
      diagnostics.push({ ...range, code: diagnostic.code, message: this.#ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n") });
    }
    return diagnostics;
  }

  complete(code: string, cursor: number): CompleteResult {
    const { cellStart } = this.#load(code);
    const prefixMatch = /[\p{L}\p{N}_$]*$/u.exec(code.slice(0, cursor));
    const prefix = prefixMatch ? prefixMatch[0] : "";
    let cursorStart = cursor - prefix.length;
    let cursorEnd = cursor;
    const info = this.#service.getCompletionsAtPosition(this.#notebookFile, cellStart + cursor, {
      includeCompletionsWithInsertText: true,
      includeCompletionsForImportStatements: false,
    });
    if (!info) return { matches: [], cursorStart: cursor, cursorEnd: cursor, types: [] };
    let typed = prefix;
    // Entries inside string literals (module paths) say what they replace; identifiers use the prefix.
    const span = info.entries.find((entry) => entry.replacementSpan)?.replacementSpan;
    const quoted = span !== undefined && /['"`]/.test(code[span.start - cellStart - 1] ?? "");
    if (span && quoted && span.start >= cellStart && span.start - cellStart <= cursor) {
      cursorStart = span.start - cellStart;
      cursorEnd = Math.max(cursor, cursorStart + span.length);
      typed = code.slice(cursorStart, cursor);
    }
    const lowered = typed.toLowerCase();
    const entries = info.entries
      .filter((entry) => entry.name.toLowerCase().startsWith(lowered))
      .sort((a, b) => Number(!b.name.startsWith(typed)) - Number(!a.name.startsWith(typed)) || a.sortText.localeCompare(b.sortText) || a.name.localeCompare(b.name))
      .slice(0, 1000);
    return {
      matches: entries.map((entry) => entry.name),
      cursorStart,
      cursorEnd,
      types: entries.map((entry) => ({ start: cursorStart, end: cursorEnd, text: entry.name, type: entry.kind })),
    };
  }

  inspect(code: string, cursor: number, detailLevel: 0 | 1): InspectResult {
    const { cellStart } = this.#load(code);
    const info =
      this.#service.getQuickInfoAtPosition(this.#notebookFile, cellStart + cursor) ??
      (cursor > 0 ? this.#service.getQuickInfoAtPosition(this.#notebookFile, cellStart + cursor - 1) : undefined);
    if (!info || !info.displayParts || info.displayParts.length === 0) return { found: false, data: {} };
    const signature = this.#ts.displayPartsToString(info.displayParts);
    const documentation = this.#ts.displayPartsToString(info.documentation ?? []);
    const tags = (info.tags ?? []).map((tag) => `@${tag.name}${tag.text ? ` ${this.#ts.displayPartsToString(tag.text)}` : ""}`);
    const details = detailLevel === 1 ? tags : tags.filter((tag) => !tag.startsWith("@example"));
    const plain = [signature, documentation, ...details].filter((part) => part.length > 0).join("\n\n");
    const markdown = ["```typescript\n" + signature + "\n```", documentation, ...details].filter((part) => part.length > 0).join("\n\n");
    return { found: true, data: { "text/plain": plain, "text/markdown": markdown } };
  }

  #load(code: string, contextCells?: number): { cellStart: number; cellEnd: number } {
    const built = this.#model.build(code, contextCells);
    if (built.text !== this.#notebook.text) {
      this.#notebook = new TextSnapshot(this.#ts, built.text);
      this.#version++;
    }
    return built;
  }

  #snapshot(file: string): ts.IScriptSnapshot | undefined {
    if (file === this.#notebookFile) return this.#notebook;
    if (file === this.#globalsFile) return this.#ts.ScriptSnapshot.fromString(this.#globalsText);
    const cached = this.#snapshots.get(file);
    if (cached) return cached;
    const text = this.#ts.sys.readFile(file);
    if (text === undefined) return undefined;
    const snapshot = this.#ts.ScriptSnapshot.fromString(text);
    this.#snapshots.set(file, snapshot);
    return snapshot;
  }
}

/** tsconfig.json beside the notebook, adjusted to the notebook's one-module model. */
function compilerOptions(typescript: typeof ts, config: LanguageWorkerConfig): ts.CompilerOptions {
  const paths = ringbookTypePaths(config.packageRoot);
  let options: ts.CompilerOptions = { strict: true, target: typescript.ScriptTarget.ES2022, lib: ["lib.es2023.d.ts"], types: ["node"] };
  const configPath = typescript.findConfigFile(config.cwd, typescript.sys.fileExists, "tsconfig.json");
  if (configPath && configPath.startsWith(config.cwd)) {
    const read = typescript.readConfigFile(configPath, typescript.sys.readFile);
    if (!read.error) {
      const parsed = typescript.parseJsonConfigFileContent(read.config, typescript.sys, config.cwd, undefined, configPath);
      options = { ...parsed.options };
      if (options.types === undefined) options.types = ["node"];
    }
  }
  for (const key of ["verbatimModuleSyntax", "isolatedModules", "declaration", "composite", "incremental", "tsBuildInfoFile", "outDir", "rootDir", "sourceMap", "noUnusedLocals", "noUnusedParameters"]) {
    delete options[key];
  }
  return {
    ...options,
    module: typescript.ModuleKind.ESNext,
    moduleResolution: typescript.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    paths: { ...bundledTypePaths(config.cwd), ...options.paths, ...paths },
    typeRoots: [join(config.cwd, "node_modules/@types"), join(config.packageRoot, "node_modules/@types")],
  };
}
