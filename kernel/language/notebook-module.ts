/**
 * The classic language service's view of a notebook (completions, inspection, fallback checks): one virtual module made of the executed cells in
 * order, then the cell being edited. A later cell may declare a name again (it runs fine), so
 * earlier top-level statements that declare a name declared later are blanked out (spaces, same
 * length) to keep TypeScript from reporting a redeclaration and to give the newest type.
 */
import type * as ts from "typescript";

interface ModelCell {
  text: string;
  /** Top-level statements with the names they declare. */
  statements: Array<{ start: number; end: number; names: string[] }>;
}

/** A notebook text plus where the edited cell starts in it. */
export interface NotebookText {
  text: string;
  cellStart: number;
  cellEnd: number;
}

/** The executed cells, kept for building the virtual module. */
export class NotebookModule {
  readonly #ts: typeof ts;
  readonly #cells: ModelCell[] = [];
  readonly #scriptKind: ts.ScriptKind;

  constructor(typescript: typeof ts, scriptKind: ts.ScriptKind) {
    this.#ts = typescript;
    this.#scriptKind = scriptKind;
  }

  /** Records an executed cell. */
  commit(text: string): void {
    this.#cells.push(this.#analyse(text));
  }

  /** Cells committed so far. */
  get size(): number {
    return this.#cells.length;
  }

  /**
   * The module text with `current` as the last cell, after the first `contextCells` committed
   * cells (all by default): a check that runs later than its cell sees what that cell saw.
   */
  build(current: string, contextCells = this.#cells.length): NotebookText {
    const currentCell = this.#analyse(current);
    const declaredLater = new Set(currentCell.statements.flatMap((statement) => statement.names));
    const parts: string[] = [];
    for (let index = Math.min(contextCells, this.#cells.length) - 1; index >= 0; index--) {
      const cell = this.#cells[index];
      if (!cell) continue;
      let text = cell.text;
      for (const statement of cell.statements) {
        if (statement.names.some((name) => declaredLater.has(name))) {
          text = text.slice(0, statement.start) + text.slice(statement.start, statement.end).replace(/[^\n]/g, " ") + text.slice(statement.end);
        }
      }
      for (const statement of cell.statements) for (const name of statement.names) declaredLater.add(name);
      parts.push(text);
    }
    parts.reverse();
    const prefix = parts.map((text) => `${text}\n;\n`).join("");
    // `export {}` makes it a module, so that top-level await type-checks.
    return { text: `${prefix}${current}\n;export {};\n`, cellStart: prefix.length, cellEnd: prefix.length + current.length };
  }

  #analyse(text: string): ModelCell {
    const typescript = this.#ts;
    const source = typescript.createSourceFile("cell.ts", text, typescript.ScriptTarget.Latest, false, this.#scriptKind);
    const statements: ModelCell["statements"] = [];
    for (const statement of source.statements) {
      const names = declaredNames(typescript, statement);
      if (names.length > 0) statements.push({ start: statement.getStart(source), end: statement.end, names });
    }
    return { text, statements };
  }
}

function declaredNames(typescript: typeof ts, statement: ts.Statement): string[] {
  const names: string[] = [];
  const addBinding = (name: ts.BindingName): void => {
    if (typescript.isIdentifier(name)) {
      names.push(name.text);
      return;
    }
    for (const element of name.elements) {
      if (typescript.isBindingElement(element)) addBinding(element.name);
    }
  };
  if (typescript.isVariableStatement(statement)) {
    for (const declaration of statement.declarationList.declarations) addBinding(declaration.name);
  } else if (
    typescript.isFunctionDeclaration(statement) ||
    typescript.isClassDeclaration(statement) ||
    typescript.isInterfaceDeclaration(statement) ||
    typescript.isTypeAliasDeclaration(statement) ||
    typescript.isEnumDeclaration(statement)
  ) {
    if (statement.name) names.push(statement.name.text);
  } else if (typescript.isModuleDeclaration(statement) && typescript.isIdentifier(statement.name)) {
    names.push(statement.name.text);
  } else if (typescript.isImportDeclaration(statement) && statement.importClause) {
    const clause = statement.importClause;
    if (clause.name) names.push(clause.name.text);
    const bindings = clause.namedBindings;
    if (bindings && typescript.isNamespaceImport(bindings)) names.push(bindings.name.text);
    else if (bindings) for (const element of bindings.elements) names.push(element.name.text);
  } else if (typescript.isImportEqualsDeclaration(statement)) {
    names.push(statement.name.text);
  }
  return names;
}
