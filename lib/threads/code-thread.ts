/**
 * What a thread that runs someone's code (the kernel's cell thread, a cluster worker's execution
 * thread) sets up on its process and global scope, in one place for both: the warning filter, and
 * the global functions its owner calls through the inspector (the interrupt probe, and any other
 * that must reach the thread while it is busy). The owner builds its calls with
 * {@link inspectorCall}, so the key is shared by name and never spelled twice.
 */

/**
 * Code is compiled with vm's `USE_MAIN_CONTEXT_DEFAULT_LOADER` so that it can import, and Node
 * warns that this is experimental the first time it does. That is ringbook's choice, not the
 * user's: this one warning is dropped.
 */
function isLoaderWarning(warning: Error): boolean {
  return warning.name === "ExperimentalWarning" && warning.message.includes("USE_MAIN_CONTEXT_DEFAULT_LOADER");
}

/** What {@link setUpCodeThread} installs. */
export interface CodeThreadSetup {
  /** Prints a warning Node emitted (Node's own printer would write it to no cell or task). */
  printWarning: (warning: Error) => void;
  /** Global functions (key → function) the owner calls through the inspector. */
  inspectorEntries: Record<string, (...args: never[]) => unknown>;
}

/**
 * Replaces Node's warning printer with `printWarning` (without ringbook's loader warning) and
 * defines the inspector entries on `globalThis`. The returned function undoes both.
 */
export function setUpCodeThread(setup: CodeThreadSetup): () => void {
  const previousListeners = process.listeners("warning");
  process.removeAllListeners("warning");
  const onWarning = (warning: Error): void => {
    if (!isLoaderWarning(warning)) setup.printWarning(warning);
  };
  process.on("warning", onWarning);
  const keys = Object.entries(setup.inspectorEntries).map(([key, entry]) => {
    const symbol = Symbol.for(key);
    Object.defineProperty(globalThis, symbol, { value: entry, configurable: true, writable: true, enumerable: false });
    return symbol;
  });
  return () => {
    for (const symbol of keys) Reflect.deleteProperty(globalThis, symbol);
    process.off("warning", onWarning);
    for (const listener of previousListeners) process.on("warning", listener);
  };
}

/**
 * The expression that calls inspector entry `key` with `args` (JSON values) inside the thread;
 * `optional`: nothing happens when the thread has no such entry (it already tore down).
 */
export function inspectorCall(key: string, args: readonly unknown[], options: { optional?: boolean } = {}): string {
  const call = options.optional === true ? "?.(" : "(";
  return `globalThis[Symbol.for(${JSON.stringify(key)})]${call}${args.map((arg) => JSON.stringify(arg)).join(", ")})`;
}
