/**
 * Type errors in the editor of a notebook on ringbook's kernel, while the user types: 300 ms after
 * the active cell's source last changed, its source goes to the kernel over the diagnostics comm,
 * and the answer is shown in the cell's editor (see editor-lint.ts). The kernel checks it as it
 * would run now, after the cells that ran, so cells that ran since are taken into account: after
 * each execution the active cell and every cell showing errors are checked again.
 *
 * One check is in flight at a time (the kernel answers on its shell channel, in turn with cells):
 * edits made meanwhile wait and are sent as one check. Each check has a version; an answer is
 * shown only when it is the latest for its cell and the cell still holds the source that was
 * checked, so an answer to older text never lands on newer text.
 */
import type { Kernel } from "@jupyterlab/services";
import { NotebookActions, type Notebook } from "@jupyterlab/notebook";
import { DiagnosticsComm } from "./diagnostics-comm.js";
import type { DiagnosticsReply } from "./diagnostics-protocol.js";
import { editorViewOf, showTypeErrors } from "./editor-lint.js";

type NotebookCell = Notebook["widgets"][number];

/** Quiet time after an edit before the cell is checked. */
export const checkDelayMs = 300;

interface SentCheck {
  cellId: string;
  version: number;
  source: string;
  /** The {@link NotebookDiagnostics} context the check was made in. */
  context: number;
}

/** The type errors shown in one notebook's editors. */
export class NotebookDiagnostics {
  readonly #notebook: Notebook;
  #comm: DiagnosticsComm | undefined;
  #version = 0;
  /** Grows when the cells that ran change (an execution, a restart, another kernel). */
  #context = 0;
  /** Cell id → the version of its latest check. */
  readonly #latest = new Map<string, number>();
  /** Cell id → what its errors shown were checked against (`context`, then source). */
  readonly #checked = new Map<string, string>();
  /** Cells waiting to be checked, in order. */
  readonly #waiting = new Set<string>();
  #inFlight: SentCheck | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The active cell, whose edits are followed. */
  #followed: NotebookCell | undefined;
  /** Cells whose editors show errors now. */
  readonly #showing = new Set<string>();
  #disposed = false;

  constructor(notebook: Notebook) {
    this.#notebook = notebook;
    notebook.activeCellChanged.connect(this.#onActiveCell);
    NotebookActions.executed.connect(this.#onExecuted);
    this.#onActiveCell(notebook, notebook.activeCell);
  }

  /** Follows `kernel` (undefined: none, or another kernel than ringbook's): its errors replace the last kernel's. */
  setKernel(kernel: Kernel.IKernelConnection | undefined): void {
    this.#comm?.dispose();
    this.#comm = undefined;
    this.#inFlight = undefined;
    this.#newContext();
    this.#clearShown();
    if (kernel === undefined || this.#disposed) return;
    this.#comm = new DiagnosticsComm(kernel, {
      opened: () => {
        // A new comm is a new (or restarted) kernel: what it knows has changed.
        this.#newContext();
        for (const cellId of this.#showing) this.#waiting.add(cellId);
        this.#checkSoon(this.#followed, 0);
      },
      answered: (reply) => this.#onAnswer(reply),
      lost: () => {
        // Its answer will not come: checked again once the comm is back.
        if (this.#inFlight !== undefined) this.#waiting.add(this.#inFlight.cellId);
        this.#inFlight = undefined;
      },
    });
  }

  /** Stops following the notebook and its kernel, and clears the errors it shows. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#notebook.activeCellChanged.disconnect(this.#onActiveCell);
    NotebookActions.executed.disconnect(this.#onExecuted);
    this.#followed?.model.contentChanged.disconnect(this.#onEdit);
    this.#followed = undefined;
    this.#comm?.dispose();
    this.#comm = undefined;
    this.#clearShown();
  }

  readonly #onActiveCell = (_: Notebook, cell: NotebookCell | null): void => {
    this.#followed?.model.contentChanged.disconnect(this.#onEdit);
    this.#followed = cell ?? undefined;
    this.#followed?.model.contentChanged.connect(this.#onEdit);
    this.#checkSoon(this.#followed, checkDelayMs);
  };

  readonly #onEdit = (): void => {
    this.#checkSoon(this.#followed, checkDelayMs);
  };

  readonly #onExecuted = (_: unknown, executed: { notebook: Notebook }): void => {
    if (executed.notebook !== this.#notebook) return;
    this.#newContext();
    for (const cellId of this.#showing) this.#waiting.add(cellId);
    this.#checkSoon(this.#followed, 0);
  };

  /** Earlier checks no longer say what the cells' errors are now. */
  #newContext(): void {
    this.#context++;
    this.#checked.clear();
  }

  /** Queues `cell` for a check, and sends the next check after `delayMs` of quiet. */
  #checkSoon(cell: NotebookCell | undefined, delayMs: number): void {
    // Notebooks on other kernels pay nothing: no queue, no timer.
    if (this.#disposed || this.#comm === undefined || this.#comm.unavailable) return;
    if (cell !== undefined) {
      // The active cell goes first.
      this.#waiting.delete(cell.model.id);
      const rest = [...this.#waiting];
      this.#waiting.clear();
      this.#waiting.add(cell.model.id);
      for (const cellId of rest) this.#waiting.add(cellId);
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#sendNext();
    }, delayMs);
  }

  #cell(cellId: string): NotebookCell | undefined {
    return this.#notebook.widgets.find((cell) => cell.model.id === cellId);
  }

  #sendNext(): void {
    const comm = this.#comm;
    if (this.#disposed || this.#inFlight !== undefined || comm === undefined || !comm.isOpen || this.#timer !== undefined) return;
    for (const cellId of this.#waiting) {
      this.#waiting.delete(cellId);
      const cell = this.#cell(cellId);
      if (cell === undefined || cell.model.type !== "code") {
        this.#showing.delete(cellId);
        this.#latest.delete(cellId);
        this.#checked.delete(cellId);
        continue;
      }
      const source = cell.model.sharedModel.getSource();
      if (this.#checked.get(cellId) === `${this.#context}\n${source}`) continue;
      if (source.trim() === "") {
        // Nothing to check: no need to wait for the kernel (busy with a cell, maybe) to say so.
        const version = ++this.#version;
        this.#latest.set(cellId, version);
        this.#show({ cellId, version, source, context: this.#context }, []);
        continue;
      }
      const check: SentCheck = { cellId, version: ++this.#version, source, context: this.#context };
      if (!comm.send({ type: "check", cell: cellId, version: check.version, source })) {
        this.#waiting.add(cellId);
        return;
      }
      this.#latest.set(cellId, check.version);
      this.#inFlight = check;
      return;
    }
  }

  #onAnswer(reply: DiagnosticsReply): void {
    const sent = this.#inFlight;
    if (sent !== undefined && reply.version === sent.version) this.#inFlight = undefined;
    if (reply.type === "error") {
      console.warn(`ringbook-plotly: the kernel could not check cell ${reply.cell ?? "?"} (version ${reply.version ?? "?"}): ${reply.message}`);
    } else if (sent !== undefined && reply.version === sent.version && reply.cell === sent.cellId) {
      this.#show(sent, reply.diagnostics);
    }
    this.#sendNext();
  }

  /** Shows the answer to `sent`, unless it is stale: a newer check of the cell, or other text in it now. */
  #show(sent: SentCheck, errors: Extract<DiagnosticsReply, { type: "diagnostics" }>["diagnostics"]): void {
    if (this.#latest.get(sent.cellId) !== sent.version || sent.context !== this.#context) return;
    const cell = this.#cell(sent.cellId);
    const view = editorViewOf(cell?.editor);
    if (cell === undefined || view === undefined || view.state.doc.toString() !== sent.source) return;
    showTypeErrors(view, errors);
    this.#checked.set(sent.cellId, `${sent.context}\n${sent.source}`);
    if (errors.length > 0) this.#showing.add(sent.cellId);
    else this.#showing.delete(sent.cellId);
  }

  #clearShown(): void {
    for (const cellId of this.#showing) {
      const view = editorViewOf(this.#cell(cellId)?.editor);
      if (view !== undefined) showTypeErrors(view, []);
    }
    this.#showing.clear();
  }
}
