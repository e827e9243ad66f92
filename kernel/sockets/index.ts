/** ZeroMQ plumbing of the kernel: serialized senders, owned receive loops, the bound channels. */
export * from "./serial-sender.js";
export * from "./receive-loop.js";
export * from "./kernel-sockets.js";
