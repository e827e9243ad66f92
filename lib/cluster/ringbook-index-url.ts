/**
 * What a task's or `%%workers` cell's `import ... from "ringbook"` loads on a worker: the
 * package's entry among the modules this runtime runs from, so that the task gets the very
 * classes and functions the runtime uses (an error `collectives` throws is an instance of the
 * `RingbookError` the task imports, and one the task throws is the runtime's own).
 * scripts/bundle-entries.mjs gives this module another value in the bundled execution thread:
 * the bundled entry beside it, which shares the bundle's modules.
 */
export const ringbookIndexUrl: string = new URL("../index.js", import.meta.url).href;
