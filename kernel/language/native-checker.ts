/**
 * Type checks of cells by TypeScript 7's native compiler (`tsgo`, npm `typescript@7` installed as
 * `typescript-native`), through its synchronous API in a child process it owns. A check of a new
 * cell costs about a millisecond against a program that keeps the libraries and every executed
 * cell parsed and bound (classic TypeScript rebuilds its checker for each: 5-10 ms here), so a
 * cell's type errors can be reported before its idle status without slowing it. The notebook's
 * files are virtual (see NotebookModel); everything else is read from disk by the compiler.
 */
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { readFileSync } from "node:fs";
import { Socket } from "node:net";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { basename, dirname, join } from "node:path";
import type { API, Diagnostic, Project, Snapshot } from "typescript-native/unstable/sync";
import { RingbookError } from "../../lib/errors.js";
import { stripJsonComments } from "./json-comments.js";
import { cellRange, ignoredDiagnostics } from "./diagnostic-filter.js";
import { globalsDeclarations, ringbookTypePaths } from "./notebook-globals.js";
import { bundledTypePaths } from "../../lib/script/bundled-packages.js";
import { augmentation, NotebookModel, type CellFile } from "./notebook-model.js";
import type { CellDiagnostic, LanguageWorkerConfig } from "./protocol.js";

/** Checks remembered by their cell's file text (a cell run again, or run again unchanged). */
const maxRemembered = 256;

/** "Cannot find module" and its variants: maybe a package installed since it was last looked up. */
const missingModuleDiagnostics = new Set([2307, 2792]);
const errorCategory = 1;

/** The native checker of one notebook. */
export class NativeChecker {
  readonly #api: API;
  /** The compiler's process (what the API spawned). */
  readonly #processes: ChildProcess[];
  /** What the compiler last wrote on stderr: the reason, when it stops answering. */
  readonly #stderrTail: OutputTail;
  readonly #model: NotebookModel;
  readonly #cwd: string;
  readonly #tsconfigPath: string;
  /** Virtual files besides the model's (tsconfig, globals, the checked cell), by absolute path. */
  readonly #files: Map<string, string>;
  #snapshot: Snapshot;
  #project: Project;
  /**
   * Snapshots replaced since the last reply, released by {@link releaseRetired} once the reply is
   * sent: a release is a request to the compiler (0.2-0.5 ms) that no check waits for.
   */
  readonly #retired: Snapshot[] = [];
  /**
   * Diagnostics by the checked file's text, which names the declaring cell of every earlier name
   * the cell uses: those cells never change, so the same text gives the same errors, until a cell
   * augments globals or modules (then everything is checked again).
   */
  readonly #remembered = new Map<string, CellDiagnostic[]>();
  /** Cell files of the model that a check wrote ahead of their commit (see diagnose). */
  readonly #checkedAhead = new Set<string>();

  private constructor(api: API, processes: ChildProcess[], stderrTail: OutputTail, snapshot: Snapshot, files: Map<string, string>, model: NotebookModel, cwd: string, tsconfigPath: string) {
    this.#api = api;
    this.#processes = processes;
    this.#stderrTail = stderrTail;
    this.#snapshot = snapshot;
    this.#files = files;
    this.#model = model;
    this.#cwd = cwd;
    this.#tsconfigPath = tsconfigPath;
    this.#project = NativeChecker.#projectOf(snapshot, tsconfigPath);
  }

  /**
   * Starts the compiler and builds the first program (the libraries). Throws where the native
   * compiler is not installed for this platform or does not start; the caller falls back to the
   * classic language service.
   */
  static async start(config: LanguageWorkerConfig): Promise<NativeChecker> {
    const { API } = await import("typescript-native/unstable/sync");
    const userTsconfig = readUserTsconfig(config.cwd);
    const jsx = typeof userTsconfig?.compilerOptions?.["jsx"] === "string" && userTsconfig.compilerOptions["jsx"] !== "preserve-none";
    const model = new NotebookModel({ jsx });
    const tsconfigPath = join(config.cwd, "__ringbook_tsconfig__.json");
    const files = new Map<string, string>([
      [tsconfigPath, JSON.stringify(virtualTsconfig(config, userTsconfig, model.cellFileName))],
      [join(config.cwd, "__ringbook_globals__.d.ts"), globalsDeclarations(config.packageRoot)],
      [join(config.cwd, model.cellFileName), "export {};\n"],
    ]);
    const virtualText = (file: string): string | undefined => files.get(file) ?? (dirname(file) === config.cwd ? model.files.get(basename(file)) : undefined);
    const { value: api, children, stderrTail } = inOwnSession(
      () =>
        new API({
          cwd: config.cwd,
          // undefined: not a virtual file, the compiler reads the disk.
          fs: { readFile: virtualText, fileExists: (file) => (virtualText(file) === undefined ? undefined : true) },
        }),
    );
    // The first snapshot reads every file as it is now.
    model.takeChanges();
    try {
      const snapshot = api.updateSnapshot({ openProjects: [tsconfigPath] });
      const checker = new NativeChecker(api, children, stderrTail, snapshot, files, model, config.cwd, tsconfigPath);
      // The libraries are parsed and bound by the first check.
      checker.diagnose("");
      return checker;
    } catch (error) {
      api.close();
      await Promise.all(children.map((child) => exited(child, 2000)));
      throw error;
    }
  }

  /** Adds an executed cell to the notebook (a new file that never changes). */
  commit(code: string): void {
    this.#withCompilerOutput(() => this.#commit(code));
  }

  #commit(code: string): void {
    this.#model.commit(code);
    this.#applyModelChanges();
    // A cell checked as the next one whose commit did not write that file (another cell ran):
    // the compiler gets the model's text back.
    for (const path of this.#checkedAhead) {
      if (!this.#files.delete(path)) continue;
      this.#replaceSnapshot(this.#api.updateSnapshot({ fileChanges: { changed: [path] } }));
    }
    this.#checkedAhead.clear();
    if (augmentation.test(code)) this.#remembered.clear();
  }

  /**
   * Type errors of `code` run after the first `contextCells` committed cells (default: all). A cell
   * checked as the next one to run is checked in the file its commit will write, so that the
   * commit that follows has nothing left for the compiler to do (the next cell's check would
   * otherwise wait for it).
   */
  diagnose(code: string, contextCells?: number): CellDiagnostic[] {
    return this.#withCompilerOutput(() => this.#diagnoseCell(code, contextCells));
  }

  #diagnoseCell(code: string, contextCells: number | undefined): CellDiagnostic[] {
    const next = contextCells === undefined || contextCells >= this.#model.size ? this.#model.nextCellFile(code) : undefined;
    const cell = next ?? this.#model.cellFile(code, contextCells, "used");
    const remembered = this.#remembered.get(cell.text);
    if (remembered !== undefined) return remembered;
    let diagnostics = this.#diagnose(code, cell);
    if (diagnostics.some((diagnostic) => missingModuleDiagnostics.has(diagnostic.code))) {
      // A module not found may have been installed since the compiler looked: look again, once.
      this.#replaceSnapshot(this.#api.updateSnapshot({ fileChanges: { invalidateAll: true } }));
      diagnostics = this.#diagnose(code, cell);
    }
    // Not remembered: a module may be installed before the cell runs again.
    if (!diagnostics.some((diagnostic) => missingModuleDiagnostics.has(diagnostic.code))) {
      this.#remembered.set(cell.text, diagnostics);
      if (this.#remembered.size > maxRemembered) {
        const oldest = this.#remembered.keys().next();
        if (oldest.done !== true) this.#remembered.delete(oldest.value);
      }
    }
    return diagnostics;
  }

  /** Releases the compiler's snapshots that the last request replaced; call it after replying. */
  releaseRetired(): void {
    this.#withCompilerOutput(() => {
      for (const snapshot of this.#retired.splice(0)) snapshot.dispose();
    });
  }

  /** Stops the compiler's process and waits for it to exit. Idempotent. */
  async close(): Promise<void> {
    this.releaseRetired();
    this.#snapshot.dispose();
    this.#api.close();
    await Promise.all(this.#processes.map((child) => exited(child, 2000)));
  }

  /** Runs `call`; an error of a compiler that wrote on stderr (a panic) carries that output. */
  #withCompilerOutput<T>(call: () => T): T {
    try {
      return call();
    } catch (error) {
      const output = this.#stderrTail.text.trim();
      if (output === "") throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new RingbookError("NATIVE_CHECKER", `${reason}; the native TypeScript compiler's last output:\n${output}`, { cause: error });
    }
  }

  #diagnose(code: string, cell: CellFile): CellDiagnostic[] {
    const path = join(this.#cwd, cell.fileName);
    this.#files.set(path, cell.text);
    if (cell.fileName !== this.#model.cellFileName) this.#checkedAhead.add(path);
    this.#replaceSnapshot(this.#api.updateSnapshot({ fileChanges: { changed: [path] } }));
    // Semantic only: a cell that does not parse fails with its SyntaxError when it runs, and a
    // request less to the compiler is a tenth of a check.
    const found = code.trim() === "" ? [] : this.#project.program.getSemanticDiagnostics(path);
    const diagnostics: CellDiagnostic[] = [];
    for (const diagnostic of found) {
      if (diagnostic.pos < cell.cellStart || diagnostic.pos > cell.cellEnd) continue;
      if (diagnostic.category !== errorCategory || ignoredDiagnostics.has(diagnostic.code)) continue;
      const range = cellRange(code, diagnostic.pos - cell.cellStart, diagnostic.end - diagnostic.pos);
      diagnostics.push({ ...range, code: diagnostic.code, message: flatten(diagnostic) });
    }
    return diagnostics;
  }

  /**
   * Tells the compiler which of the model's files changed, one file per snapshot: with two changed
   * files in one update, tsgo 7.0.2 rebuilt the whole program's structure (~350 file lookups and
   * 20-60 ms here) even though no file's imports changed; one at a time, a change costs ~1 ms.
   */
  #applyModelChanges(): void {
    const { changed, created } = this.#model.takeChanges();
    if (created.length > 0) {
      // A new generation's files are reachable from the program's roots only through a file that
      // imports its scope: the checked cell's file (a root) gets that import now, in the same
      // structural change. Until a cell imports it, a cell checked in its own file of the new
      // generation was "source file not found".
      const root = join(this.#cwd, this.#model.cellFileName);
      this.#files.set(root, this.#model.cellFile("").text);
      this.#replaceSnapshot(this.#api.updateSnapshot({ fileChanges: { created: created.map((name) => join(this.#cwd, name)), changed: [root] } }));
    }
    for (const name of changed) {
      const path = join(this.#cwd, name);
      const checkedText = this.#files.get(path);
      // From here on the model holds this file's text.
      this.#files.delete(path);
      if (checkedText !== undefined && checkedText === this.#model.files.get(name)) continue;
      this.#replaceSnapshot(this.#api.updateSnapshot({ fileChanges: { changed: [path] } }));
    }
  }

  #replaceSnapshot(next: Snapshot): void {
    this.#retired.push(this.#snapshot);
    this.#snapshot = next;
    this.#project = NativeChecker.#projectOf(next, this.#tsconfigPath);
  }

  static #projectOf(snapshot: Snapshot, tsconfigPath: string): Project {
    const project = snapshot.getProject(tsconfigPath);
    if (project === undefined) throw new RingbookError("NATIVE_CHECKER", `the native TypeScript compiler did not open ${tsconfigPath}`);
    return project;
  }
}

/**
 * Runs `start` with this thread's `child_process.spawn` starting children in a session of their
 * own. Front ends interrupt a kernel with SIGINT to its whole process group (jupyter_client's
 * killpg, Ctrl-C in a terminal); the compiler, spawned by TypeScript's API with no option for
 * this, took that SIGINT as its own and stopped answering. In its own session it gets none, and
 * it still exits when the kernel does (its pipes close).
 */
function inOwnSession<T>(start: () => T): { value: T; children: ChildProcess[]; stderrTail: OutputTail } {
  const require = createRequire(import.meta.url);
  const childProcess: typeof import("node:child_process") = require("node:child_process");
  const spawn = childProcess.spawn;
  const children: ChildProcess[] = [];
  const stderrTail = new OutputTail(4096);
  const detachedSpawn = (command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess => {
    // Its stderr is not the kernel's: when the kernel dies, the compiler panics on its closed
    // pipe ("panic: EOF" and a Go stack trace), which landed in the front end's terminal.
    const stdio = Array.isArray(options.stdio) ? options.stdio.map((stream, fd) => (fd === 2 && stream === "inherit" ? "pipe" : stream)) : options.stdio;
    const child = spawn(command, args, { ...options, stdio, detached: true });
    child.stderr?.on("data", (chunk: Buffer) => stderrTail.add(chunk));
    if (child.stderr instanceof Socket) child.stderr.unref();
    children.push(child);
    return child;
  };
  childProcess.spawn = detachedSpawn as typeof spawn;
  syncBuiltinESMExports();
  try {
    return { value: start(), children, stderrTail };
  } finally {
    childProcess.spawn = spawn;
    syncBuiltinESMExports();
  }
}

/** The last `maxBytes` of a stream's output, for errors that say why a process stopped. */
class OutputTail {
  readonly #maxBytes: number;
  #bytes = Buffer.alloc(0);

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  add(chunk: Buffer): void {
    const joined = Buffer.concat([this.#bytes, chunk]);
    this.#bytes = joined.subarray(Math.max(0, joined.length - this.#maxBytes));
  }

  get text(): string {
    return this.#bytes.toString("utf8");
  }
}

/** Resolves once `child` has exited; SIGKILL after `graceMs`. */
function exited(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A diagnostic's message with its chain, as tsc prints it. */
function flatten(diagnostic: Diagnostic, indent = 0): string {
  const lines = [`${"  ".repeat(indent)}${diagnostic.text}`];
  for (const next of diagnostic.messageChain ?? []) lines.push(flatten(next, indent + 1));
  return lines.join("\n");
}

interface UserTsconfig {
  compilerOptions?: Record<string, unknown>;
}

/** tsconfig.json beside the notebook, read only to merge its paths and types; undefined without one. */
function readUserTsconfig(cwd: string): UserTsconfig | undefined {
  let text: string;
  try {
    text = readFileSync(join(cwd, "tsconfig.json"), "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(stripJsonComments(text));
    if (typeof parsed !== "object" || parsed === null) return {};
    const options: unknown = (parsed as Record<string, unknown>)["compilerOptions"];
    return typeof options === "object" && options !== null && !Array.isArray(options) ? { compilerOptions: { ...options } } : {};
  } catch {
    // The compiler reports what is wrong with it when it extends it.
    return {};
  }
}

/**
 * The checker's tsconfig: the user's, extended, adjusted to the notebook's one-module-per-cell
 * model (bundler resolution, no emit, ringbook's modules and globals), with the cell as its file.
 */
function virtualTsconfig(config: LanguageWorkerConfig, user: UserTsconfig | undefined, cellFileName: string): Record<string, unknown> {
  const userOptions = user?.compilerOptions ?? {};
  const userPaths = typeof userOptions["paths"] === "object" && userOptions["paths"] !== null ? userOptions["paths"] : {};
  const compilerOptions: Record<string, unknown> = {
    ...(user === undefined ? { strict: true, target: "es2022", lib: ["es2023"] } : {}),
    ...(userOptions["types"] === undefined ? { types: ["node"] } : {}),
    module: "esnext",
    moduleResolution: "bundler",
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    noEmit: true,
    verbatimModuleSyntax: false,
    isolatedModules: false,
    declaration: false,
    composite: false,
    incremental: false,
    noUnusedLocals: false,
    noUnusedParameters: false,
    // The user's paths win over ringbook's copies of tfjs, ringbook's own names over the user's.
    paths: { ...bundledTypePaths(config.cwd), ...userPaths, ...ringbookTypePaths(config.packageRoot) },
    typeRoots: [join(config.cwd, "node_modules/@types"), join(config.packageRoot, "node_modules/@types")],
  };
  return {
    ...(user === undefined ? {} : { extends: "./tsconfig.json" }),
    compilerOptions,
    files: ["__ringbook_globals__.d.ts", cellFileName],
    // `files`, `include` and `exclude` are inherited one by one: without this, the `include` of
    // the tsconfig.json beside the notebook (a project's whole source) joined every check.
    include: [],
  };
}
