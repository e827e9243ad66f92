/**
 * The type checker's view of a notebook: every executed cell is a module file of its own that
 * exports what it declares; a cell refers to an earlier cell's name through an import alias
 * (`import x = __rb0.s3.c51.x;`) to the cell that declared it last, and the cell being checked or
 * edited is one more such file. A later cell that declares a name again shadows the earlier one,
 * as it does when it runs.
 *
 * Why aliases through fixed namespaces: a checker rebuilds the program's whole structure (module
 * resolution for every file: tens of milliseconds) whenever a file's imports change or a file is
 * added, but only re-reads a file whose imports stay the same. So the files exist before cells
 * fill them: a generation of 256 empty cell files behind a scope file and 16 group files (a tree,
 * so that resolving a path costs 16 + 16 entries, not 256), and every cell file imports only the
 * scope files. Executing a cell changes the contents of one file; a new generation (every 256
 * cells) is the only structural change.
 */
import { cellNames, type CellNames } from "./cell-names.js";

/** One virtual file, relative to the notebook folder, and where the cell's own text is in it. */
export interface CellFile {
  fileName: string;
  text: string;
  cellStart: number;
  cellEnd: number;
}

/** Which earlier names the edited cell refers to: those it uses (checks) or all (completions). */
export type CellScope = "used" | "all";

/** Files that changed since the last {@link NotebookModel.takeChanges}. */
export interface ModelChanges {
  /** Files whose text changed. */
  changed: string[];
  /** Files that did not exist before. */
  created: string[];
}

/** Code that can change what other cells' names mean: global and module augmentations, references. */
export const augmentation = /\bdeclare\s+(?:global|module)\b|\/\/\/\s*<reference\b/;

const fanOut = 16;
const cellsPerGeneration = fanOut * fanOut;

/** The executed cells, as virtual module files. */
export class NotebookModel {
  readonly #jsx: boolean;
  readonly #extension: string;
  /** Every virtual file by name (placeholders included). */
  readonly #files = new Map<string, string>();
  #committed = 0;
  #generations = 0;
  /** For each name, the indexes of the cells that declared it, in order. */
  readonly #declarers = new Map<string, number[]>();
  #changes: ModelChanges = { changed: [], created: [] };

  constructor(options: { jsx: boolean }) {
    this.#jsx = options.jsx;
    this.#extension = options.jsx ? ".tsx" : ".ts";
    this.#startGeneration();
  }

  /** Cells committed so far. */
  get size(): number {
    return this.#committed;
  }

  /** The name of the edited cell's file (its text changes with every request). */
  get cellFileName(): string {
    return `__ringbook_cell__${this.#extension}`;
  }

  /** Every file of the model as it is now (the edited cell's excepted). */
  get files(): ReadonlyMap<string, string> {
    return this.#files;
  }

  /** The files changed or created since the last call. */
  takeChanges(): ModelChanges {
    const changes = this.#changes;
    this.#changes = { changed: [], created: [] };
    return changes;
  }

  /**
   * Records an executed cell: its file gets the cell's text and exports. A cell that declares
   * nothing and augments nothing changes no other cell's types: its file stays empty, and the
   * compiler has nothing to re-read.
   */
  commit(code: string): void {
    const index = this.#committed;
    if (index === this.#generations * cellsPerGeneration) this.#startGeneration();
    const names = cellNames(code, this.#jsx);
    this.#committed++;
    if (names.declared.length === 0 && !augmentation.test(code)) return;
    const fileName = this.#cellFileName(index);
    this.#files.set(fileName, this.#committedText(code, names, index));
    this.#changes.changed.push(fileName);
    for (const name of names.declared) {
      const declarers = this.#declarers.get(name) ?? [];
      declarers.push(index);
      this.#declarers.set(name, declarers);
    }
  }

  /**
   * The file that committing `code` next would write, when that is a file the compiler already
   * has (not in a generation yet to come) and when committing writes one at all: checking a cell
   * in it leaves nothing for the commit to change.
   */
  nextCellFile(code: string): CellFile | undefined {
    const index = this.#committed;
    if (index === this.#generations * cellsPerGeneration) return undefined;
    const names = cellNames(code, this.#jsx);
    if (names.declared.length === 0 && !augmentation.test(code)) return undefined;
    const text = this.#committedText(code, names, index);
    const cellStart = text.indexOf("\n") + 1;
    return { fileName: this.#cellFileName(index), text, cellStart, cellEnd: cellStart + code.length };
  }

  #committedText(code: string, names: CellNames, index: number): string {
    const header = this.#header(names, index, "used");
    const exports = names.declared.length === 0 ? "" : `export { ${names.declared.join(", ")} };\n`;
    return `${header}\n${code}\n;${exports}export {};\n`;
  }

  /**
   * The file of `code` run after the first `contextCells` committed cells (all by default): a check
   * that runs later than its cell sees what that cell saw.
   */
  cellFile(code: string, contextCells = this.#committed, scope: CellScope = "used"): CellFile {
    const header = `${this.#header(cellNames(code, this.#jsx), Math.min(contextCells, this.#committed), scope)}\n`;
    return { fileName: this.cellFileName, text: `${header}${code}\n;export {};\n`, cellStart: header.length, cellEnd: header.length + code.length };
  }

  /** One line: the scope imports, then an alias for each earlier name the cell uses (or every one) to its latest declarer before `before`. */
  #header(names: CellNames, before: number, scope: CellScope): string {
    const parts: string[] = [];
    for (let generation = 0; generation < this.#generations; generation++) parts.push(`import * as __rb${generation} from "./${this.#scopeFileName(generation)}";`);
    const ownNames = new Set(names.declared);
    for (const name of scope === "used" ? names.used : this.#declarers.keys()) {
      if (ownNames.has(name)) continue;
      let source: number | undefined;
      for (const index of this.#declarers.get(name) ?? []) if (index < before) source = index;
      if (source !== undefined) parts.push(`import ${name} = ${this.#pathOf(source)}.${name};`);
    }
    return parts.join(" ");
  }

  /** Adds a generation's empty cell files, group files and scope file. */
  #startGeneration(): void {
    const generation = this.#generations;
    const create = (fileName: string, text: string): void => {
      this.#files.set(fileName, text);
      this.#changes.created.push(fileName);
    };
    const groups: string[] = [];
    // An empty cell file already imports what it will when a cell fills it: then its imports do not change.
    const scopes = Array.from({ length: generation + 1 }, (_, earlier) => `import * as __rb${earlier} from "./${this.#scopeFileName(earlier)}";`).join(" ");
    for (let group = 0; group < fanOut; group++) {
      const cells: string[] = [];
      for (let slot = 0; slot < fanOut; slot++) {
        const index = generation * cellsPerGeneration + group * fanOut + slot;
        create(this.#cellFileName(index), `${scopes}\nexport {};\n`);
        cells.push(`export * as c${slot} from "./${this.#cellFileName(index)}";`);
      }
      const groupFile = `__ringbook_g${generation}_s${group}__${this.#extension}`;
      create(groupFile, `${cells.join("\n")}\n`);
      groups.push(`export * as s${group} from "./${groupFile}";`);
    }
    create(this.#scopeFileName(generation), `${groups.join("\n")}\n`);
    this.#generations++;
  }

  #scopeFileName(generation: number): string {
    return `__ringbook_g${generation}__${this.#extension}`;
  }

  #cellFileName(index: number): string {
    return `__ringbook_g${Math.floor(index / cellsPerGeneration)}_c${index % cellsPerGeneration}__${this.#extension}`;
  }

  /** The namespace path of cell `index` (`__rb0.s3.c5`). */
  #pathOf(index: number): string {
    const within = index % cellsPerGeneration;
    return `__rb${Math.floor(index / cellsPerGeneration)}.s${Math.floor(within / fanOut)}.c${within % fanOut}`;
  }
}
