import type { MessageHeader } from "../protocol/wire-types.js";

/** What the server remembers about a cell so that late output still finds its parent. */
export interface CellOrigin {
  /** The execute_request's header: parent_header of everything the cell emits. */
  header: MessageHeader;
  /** Routing ids of the shell request's sender: where stdin input_requests go. */
  ids: Buffer[];
}

/**
 * cellId → origin for the most recent cells (bounded: the oldest is forgotten first), so events
 * arriving after a cell's reply (timers, promises) are published under that cell's request.
 */
export class CellRegistry {
  readonly #capacity: number;
  readonly #cells = new Map<string, CellOrigin>();

  constructor(capacity = 1000) {
    this.#capacity = capacity;
  }

  /** Adds or replaces an origin; it becomes the newest (the last to be forgotten). */
  add(cellId: string, origin: CellOrigin): void {
    this.#cells.delete(cellId);
    this.#cells.set(cellId, origin);
    if (this.#cells.size > this.#capacity) {
      const oldest = this.#cells.keys().next();
      if (oldest.done !== true) this.#cells.delete(oldest.value);
    }
  }

  /** Forgets one origin (a closed comm's: see commOrigin). */
  delete(cellId: string): void {
    this.#cells.delete(cellId);
  }

  get(cellId: string): CellOrigin | undefined {
    return this.#cells.get(cellId);
  }
}
