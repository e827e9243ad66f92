/**
 * What a task's or `%%workers` cell's `import ... from "ringbook"` loads on a worker: the
 * package's entry among the modules this runtime runs from, so that the task gets the very
 * classes and functions the runtime uses (a `TensorDataset` it returns is one the runtime
 * recognises, an error thrown by `collectives` is an instance of the `RingbookError` it imports).
 * scripts/bundle-entries.mjs gives this module another value in the bundled execution thread:
 * the bundled entry beside it, which shares the bundle's modules.
 */
export const ringbookIndexUrl: string = new URL("../index.js", import.meta.url).href;
