/** Jupyter wire protocol: pure functions and types, no I/O. */
export * from "./wire-types.js";
export * from "./json-guards.js";
export * from "./protocol-error.js";
export * from "./signer.js";
export * from "./frames.js";
export * from "./connection-info.js";
export * from "./request-validators.js";
export * from "./child-of.js";
