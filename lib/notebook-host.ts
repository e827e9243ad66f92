/**
 * The contract between ringbook's library and the notebook that runs it: what lib/ may ask of a
 * host (show displays, update live figures, talk over comms, register cell magics, interrupt and
 * shutdown hooks). ringbook's kernel installs one in the thread that runs cells
 * ({@link installNotebookHost}); lib/ reaches it only through {@link notebookHost}, and in a plain
 * Node script there is none, so displays print text and live figures stay quiet.
 *
 * The host lives on `globalThis` under one well-known key rather than in a module variable: a
 * notebook may import its own copy of ringbook (a `node_modules` beside the notebook), and that
 * copy must still find the kernel's host. What is found there is checked, not trusted.
 * @example
 * const host = notebookHost();
 * host?.interruptHooks.add(() => console.log("interrupted"));
 */
import { RingbookError } from "./errors.js";
import type { Figure } from "./plots/figure.js";
import type { FigureDelta, FigureStreamTag } from "./plots/figure-stream.js";

type Json = Record<string, unknown>;

/** One display call. `update` means "replace the output with this display id". */
export interface DisplayMessage {
  /** MIME type → data. */
  data: Json;
  metadata: Json;
  displayId?: string;
  update: boolean;
}

/** Where displays go: the output of the cell that caused them. */
export interface DisplaySink {
  display(message: DisplayMessage): void;
  clearOutput(wait: boolean): void;
}

/** What a live figure needs of a display handle (the kernel's display API has these). */
export interface LiveDisplayHandle {
  /**
   * `interim`: a later update replaces this one soon, so what only saved copies need may be left
   * out. `stream`: the figure's identity for {@link LiveDisplayHost.sendFigureDelta}.
   */
  plotly(figure: Figure, options?: { text?: string; interim?: boolean; stream?: FigureStreamTag }): void;
  bundle(data: Json, metadata?: Json): void;
}

/** What a live figure needs of the host. */
export interface LiveDisplayHost {
  create(): LiveDisplayHandle;
  /**
   * How many front ends apply figure deltas (ringbook's JupyterLab extension); absent or 0: none,
   * so every update is a whole figure.
   */
  figureListeners?(): number;
  /** Sends a delta to those front ends. */
  sendFigureDelta?(delta: FigureDelta): void;
}

/** One comm, from the kernel's side. */
export interface Comm {
  readonly commId: string;
  readonly targetName: string;
  send(data?: Json, metadata?: Json): void;
  close(data?: Json, metadata?: Json): void;
  onMsg(handler: (data: Json, metadata: Json) => void): void;
  onClose(handler: (data: Json, metadata: Json) => void): void;
}

/** Called when the front end opens a comm to a registered target. */
export type CommTargetHandler = (comm: Comm, openMessage: { data: Json; metadata: Json }) => void;

/** Comms with the front ends (the `comms` global of cells). */
export interface Comms {
  registerTarget(targetName: string, handler: CommTargetHandler): void;
  unregisterTarget(targetName: string): void;
  /** Opens a comm towards the front end. */
  open(targetName: string, data?: Json, metadata?: Json): Comm;
}

/** Runs a `%%name ARGS` cell: `args` is the rest of the first line, `body` the lines after it. */
export type CellMagic = (args: string, body: string) => Promise<unknown>;

/** What a notebook offers the code its cells run. */
export interface NotebookHost {
  /** The running cell's output. */
  readonly displays: DisplaySink;
  /** Display handles that update in place, and figure deltas for front ends that apply them. */
  readonly liveFigures: LiveDisplayHost;
  readonly comms: Comms;
  /** `%%name` cells go to the handler registered under `name`. */
  readonly cellMagics: Map<string, CellMagic>;
  /** Run once per interrupt of the notebook, while the interrupted cell is being stopped. */
  readonly interruptHooks: Set<() => void>;
  /**
   * Awaited (all at once, each failure only logged) before the thread that runs cells ends: at
   * kernel shutdown or restart, what cells opened outside the thread (clusters) is closed here.
   */
  readonly shutdownHooks: Set<() => Promise<void> | void>;
}

/** The one key a host is installed under on `globalThis`. */
export const notebookHostKey: unique symbol = Symbol.for("ringbook.notebookHost");

/**
 * Checks what is installed under {@link notebookHostKey}: `undefined` when nothing is (a plain
 * script), the host itself when it has every member, an error naming the first missing one
 * otherwise (a host from an incompatible copy of ringbook).
 */
export function parseNotebookHost(value: unknown): NotebookHost | undefined {
  if (value === undefined) return undefined;
  if (!isNotebookHost(value)) {
    throw new RingbookError("ERR_BAD_NOTEBOOK_HOST", `globalThis[Symbol.for("ringbook.notebookHost")] is not a notebook host: ${hostProblem(value) ?? ""}`);
  }
  return value;
}

/** The notebook host of this thread, if any. */
export function notebookHost(): NotebookHost | undefined {
  return parseNotebookHost(Reflect.get(globalThis, notebookHostKey));
}

/**
 * Makes `host` this thread's notebook host (replacing any); the returned function removes it
 * again (if it is still the installed one).
 */
export function installNotebookHost(host: NotebookHost): () => void {
  Object.defineProperty(globalThis, notebookHostKey, { value: host, configurable: true, writable: true, enumerable: false });
  return () => {
    if (Reflect.get(globalThis, notebookHostKey) === host) Reflect.deleteProperty(globalThis, notebookHostKey);
  };
}

function isNotebookHost(value: unknown): value is NotebookHost {
  return hostProblem(value) === undefined;
}

/** What `value` lacks to be a {@link NotebookHost}, or `undefined` when nothing. */
function hostProblem(value: unknown): string | undefined {
  if (!isObject(value)) return `expected an object, got ${typeof value}`;
  const members: Array<[name: string, member: unknown, methods: string[]]> = [
    ["displays", Reflect.get(value, "displays"), ["display", "clearOutput"]],
    ["liveFigures", Reflect.get(value, "liveFigures"), ["create"]],
    ["comms", Reflect.get(value, "comms"), ["registerTarget", "unregisterTarget", "open"]],
  ];
  for (const [name, member, methods] of members) {
    if (!isObject(member)) return `${name} must be an object, got ${typeof member}`;
    const missing = methods.find((method) => typeof Reflect.get(member, method) !== "function");
    if (missing !== undefined) return `${name}.${missing} must be a function`;
  }
  const liveFigures: unknown = Reflect.get(value, "liveFigures");
  for (const optional of ["figureListeners", "sendFigureDelta"]) {
    const method: unknown = isObject(liveFigures) ? Reflect.get(liveFigures, optional) : undefined;
    if (method !== undefined && typeof method !== "function") return `liveFigures.${optional} must be a function when present`;
  }
  if (!(Reflect.get(value, "cellMagics") instanceof Map)) return "cellMagics must be a Map";
  for (const hooks of ["interruptHooks", "shutdownHooks"]) {
    if (!(Reflect.get(value, hooks) instanceof Set)) return `${hooks} must be a Set`;
  }
  return undefined;
}

function isObject(value: unknown): value is object {
  return (typeof value === "object" || typeof value === "function") && value !== null;
}
