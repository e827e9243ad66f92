/** The serial sender lives in lib/ (the cluster's sockets use it too). */
export { SerialSender, DEFAULT_MAX_QUEUED_SENDS, type SendableSocket, type OutgoingMessage, type OutgoingFrame } from "../../lib/transport/serial-sender.js";
