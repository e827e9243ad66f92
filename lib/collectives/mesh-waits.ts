/** Small waiting primitives for the mesh and the collectives; each leaves no timer or listener behind. */

/** Wakes everyone waiting for "something about the peers changed" (a handshake, a goodbye, a loss). */
export class MeshChanges {
  #waiters: Array<() => void> = [];

  /** Resolves at the next {@link MeshChanges.notify}. */
  next(): Promise<undefined> {
    return new Promise((resolve) => this.#waiters.push(() => resolve(undefined)));
  }

  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** `task`'s value, or `"timeout"` once `deadlineMs` (a `Date.now()` time) has passed. */
export async function untilDeadline<T>(task: Promise<T>, deadlineMs: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, deadlineMs - Date.now()));
  });
  try {
    return await Promise.race([task, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
