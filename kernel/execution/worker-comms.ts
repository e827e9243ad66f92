/**
 * The `comms` global of cells (inside the cell worker): targets the front end may open, comms the
 * kernel opens, and the messages both ways.
 * @example
 * comms.registerTarget("echo", (comm) => comm.onMsg((data) => comm.send(data)));
 */
import { randomUUID } from "node:crypto";
import type { CellEvent, CommTarget } from "./executor.js";
import type { Comm, Comms, CommTargetHandler } from "../../lib/notebook-host.js";

export type { Comm, Comms, CommTargetHandler } from "../../lib/notebook-host.js";

type Json = Record<string, unknown>;

class OpenComm implements Comm {
  readonly #registry: CommRegistry;
  readonly #messageHandlers: Array<(data: Json, metadata: Json) => void> = [];
  readonly #closeHandlers: Array<(data: Json, metadata: Json) => void> = [];
  #closed = false;
  constructor(registry: CommRegistry, readonly commId: string, readonly targetName: string) {
    this.#registry = registry;
  }
  send(data: Json = {}, metadata: Json = {}): void {
    if (this.#closed) throw new Error(`comm ${this.commId} (target ${JSON.stringify(this.targetName)}) is closed`);
    this.#registry.emit({ kind: "commMsg", commId: this.commId, data, metadata });
  }
  close(data: Json = {}, metadata: Json = {}): void {
    if (this.#closed) return;
    this.#registry.emit({ kind: "commClose", commId: this.commId, data, metadata });
    this.closedByPeer(data, metadata);
  }
  onMsg(handler: (data: Json, metadata: Json) => void): void {
    this.#messageHandlers.push(handler);
  }
  onClose(handler: (data: Json, metadata: Json) => void): void {
    this.#closeHandlers.push(handler);
  }
  deliver(data: Json, metadata: Json): void {
    for (const handler of this.#messageHandlers) handler(data, metadata);
  }
  closedByPeer(data: Json, metadata: Json): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#registry.forget(this.commId);
    for (const handler of this.#closeHandlers) handler(data, metadata);
  }
}

/** All targets and open comms of the worker. */
export class CommRegistry implements Comms {
  readonly #targets = new Map<string, CommTargetHandler>();
  readonly #comms = new Map<string, OpenComm>();
  readonly #emit: (event: CellEvent) => void;

  /** @param emit sends a comm event to the front end, attributed to the running cell. */
  constructor(emit: (event: CellEvent) => void) {
    this.#emit = emit;
  }

  emit(event: CellEvent): void {
    this.#emit(event);
  }

  forget(commId: string): void {
    this.#comms.delete(commId);
  }

  registerTarget(targetName: string, handler: CommTargetHandler): void {
    if (typeof handler !== "function") throw new TypeError(`comms.registerTarget(${JSON.stringify(targetName)}) needs a handler function`);
    this.#targets.set(targetName, handler);
  }

  unregisterTarget(targetName: string): void {
    this.#targets.delete(targetName);
  }

  open(targetName: string, data: Json = {}, metadata: Json = {}): Comm {
    const comm = new OpenComm(this, randomUUID(), targetName);
    this.#comms.set(comm.commId, comm);
    this.#emit({ kind: "commOpen", commId: comm.commId, targetName, data, metadata });
    return comm;
  }

  /** The front end opened a comm; false when no target has that name. */
  handleOpen(commId: string, targetName: string, data: Json, metadata: Json): boolean {
    const handler = this.#targets.get(targetName);
    if (!handler) return false;
    const comm = new OpenComm(this, commId, targetName);
    this.#comms.set(commId, comm);
    handler(comm, { data, metadata });
    return true;
  }

  handleMsg(commId: string, data: Json, metadata: Json): void {
    this.#comms.get(commId)?.deliver(data, metadata);
  }

  handleClose(commId: string, data: Json, metadata: Json): void {
    this.#comms.get(commId)?.closedByPeer(data, metadata);
  }

  info(targetName?: string): CommTarget[] {
    return [...this.#comms.values()]
      .filter((comm) => targetName === undefined || comm.targetName === targetName)
      .map((comm) => ({ commId: comm.commId, targetName: comm.targetName }));
  }
}
