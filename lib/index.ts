/**
 * ringbook's library: worker clusters for data-parallel TensorFlow.js training, usable from a
 * notebook cell (`import { launchCluster } from "ringbook"`) or a plain Node script.
 */
export * from "./cluster/index.js";
export { RingbookError } from "./errors.js";
export type { BackendPreference } from "./backend/select-backend.js";
