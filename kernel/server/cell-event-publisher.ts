import type { CellEvent } from "../execution/executor.js";
import type { JsonObject } from "../protocol/json-guards.js";
import type { IopubContents, MessageHeader } from "../protocol/wire-types.js";
import type { CellRegistry } from "./cell-registry.js";
import type { MessageSender } from "./message-sender.js";

/** What the publisher sends through: the kernel's {@link MessageSender}. */
export type CellMessageSender = Pick<MessageSender, "publish" | "sendStdin">;

interface PendingInput {
  cellId: string;
  requestId: string;
}

/** Most input requests that may wait for a reply at once (a cell waits on one at a time). */
const MAX_PENDING_INPUTS = 64;

/** Most displays whose latest late update is kept for the next cell's end (the newest are kept). */
const MAX_LATE_DISPLAYS = 64;

/**
 * Turns executor events into iopub (and stdin) messages under the parent header of the cell that
 * produced them, even when they arrive after that cell's reply. Keeps the input requests waiting
 * for an input_reply.
 *
 * A display updated by a cell that has ended (a training run started in one cell and awaited in
 * a later one) is updated under that cell's request, where JupyterLab and `ringbook run`, which
 * keep listening to it, apply it. Clients that follow a request only until its idle (nbclient and
 * `nbconvert --execute`, the classic notebook) would drop it, so the latest such update of each
 * display is sent once more under the next cell that ends, before its reply: they apply an
 * `update_display_data` to every output with its display id, in whichever cell it is, so the
 * saved notebook ends on the state the display had when that cell ended (the final state, when
 * the later cell awaited the run). Clients that have no such display ignore it.
 */
export class CellEventPublisher {
  readonly #sender: CellMessageSender;
  readonly #cells: CellRegistry;
  readonly #log: (line: string) => void;
  /** input_request msg_id → the executor's request; insertion order = age. */
  readonly #pendingInputs = new Map<string, PendingInput>();
  /** The cell executing now (shell requests run one at a time). */
  #running: string | undefined;
  /** display id → the latest update_display_data content a cell sent after it ended; oldest first. */
  readonly #lateUpdates = new Map<string, IopubContents["update_display_data"]>();

  constructor(sender: CellMessageSender, cells: CellRegistry, log: (line: string) => void) {
    this.#sender = sender;
    this.#cells = cells;
    this.#log = log;
  }

  /** The executor's event listener. */
  handle(cellId: string, event: CellEvent): void {
    const origin = this.#cells.get(cellId);
    if (origin === undefined) this.#log(`event ${event.kind} for unknown or forgotten cell ${JSON.stringify(cellId)}; published without parent`);
    const parent: MessageHeader | Record<string, never> = origin?.header ?? {};
    switch (event.kind) {
      case "stream":
        this.#sender.publish(parent, "stream", { name: event.name, text: event.text });
        return;
      case "display": {
        const transient: JsonObject = event.displayId === undefined ? {} : { display_id: event.displayId };
        const content = { data: event.data, metadata: event.metadata, transient };
        if (event.update && event.displayId !== undefined) {
          this.#sender.publish(parent, "update_display_data", content);
          if (cellId !== this.#running) this.#keepLateUpdate(event.displayId, content);
        } else {
          this.#sender.publish(parent, "display_data", content);
        }
        return;
      }
      case "clearOutput":
        this.#sender.publish(parent, "clear_output", { wait: event.wait });
        return;
      case "inputRequest": {
        if (origin === undefined) {
          this.#log(`input request ${event.requestId} of an unknown cell cannot be sent; the cell keeps waiting until interrupted`);
          return;
        }
        const msgId = this.#sender.sendStdin(origin.ids, origin.header, "input_request", { prompt: event.prompt, password: event.password });
        this.#pendingInputs.set(msgId, { cellId, requestId: event.requestId });
        if (this.#pendingInputs.size > MAX_PENDING_INPUTS) {
          const oldest = this.#pendingInputs.keys().next();
          if (oldest.done !== true) this.#pendingInputs.delete(oldest.value);
        }
        return;
      }
      case "commOpen":
        this.#sender.publish(parent, "comm_open", { comm_id: event.commId, target_name: event.targetName, data: event.data }, event.metadata);
        return;
      case "commMsg":
        this.#sender.publish(parent, "comm_msg", { comm_id: event.commId, data: event.data }, event.metadata);
        return;
      case "commClose":
        this.#sender.publish(parent, "comm_close", { comm_id: event.commId, data: event.data }, event.metadata);
        return;
      case "lateError":
        this.#sender.publish(parent, "error", { ename: event.ename, evalue: event.evalue, traceback: event.traceback });
        return;
      default: {
        const unknown: never = event;
        this.#log(`unknown executor event ${JSON.stringify(unknown)}`);
      }
    }
  }

  /**
   * Matches an input_reply to its input_request: by parent msg_id, else the oldest waiting one
   * (jupyter_client's `input()` sends replies without a parent header).
   */
  takeInputRequest(parentMsgId: string | undefined): string | undefined {
    let key = parentMsgId !== undefined && this.#pendingInputs.has(parentMsgId) ? parentMsgId : undefined;
    if (key === undefined) {
      const oldest = this.#pendingInputs.keys().next();
      key = oldest.done === true ? undefined : oldest.value;
    }
    if (key === undefined) return undefined;
    const pending = this.#pendingInputs.get(key);
    this.#pendingInputs.delete(key);
    return pending?.requestId;
  }

  /** A cell starts executing: updates it sends are its own, not late. */
  cellStarted(cellId: string): void {
    this.#running = cellId;
  }

  /**
   * The executing cell has its outcome; called before its result and reply. Unless it is
   * `silent` (a front end's own request, whose output nobody shows), the latest late update of
   * each display is sent again under it (see the class comment).
   */
  cellEnded(cellId: string, parent: MessageHeader, silent: boolean): void {
    if (this.#running === cellId) this.#running = undefined;
    if (silent) return;
    for (const content of this.#lateUpdates.values()) this.#sender.publish(parent, "update_display_data", content);
    this.#lateUpdates.clear();
  }

  #keepLateUpdate(displayId: string, content: IopubContents["update_display_data"]): void {
    this.#lateUpdates.delete(displayId);
    this.#lateUpdates.set(displayId, content);
    if (this.#lateUpdates.size > MAX_LATE_DISPLAYS) {
      const oldest = this.#lateUpdates.keys().next();
      if (oldest.done !== true) this.#lateUpdates.delete(oldest.value);
    }
  }

  /** Forgets input requests of a finished cell (interrupted while waiting for input). */
  forgetCell(cellId: string): void {
    for (const [key, pending] of this.#pendingInputs) if (pending.cellId === cellId) this.#pendingInputs.delete(key);
  }
}
