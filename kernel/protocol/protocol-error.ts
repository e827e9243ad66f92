import { RingbookError } from "../../lib/errors.js";

/** Stable codes of {@link ProtocolError}; branch on these, not on messages. */
export type ProtocolErrorCode =
  | "PROTOCOL_FRAMES"
  | "PROTOCOL_SIGNATURE"
  | "PROTOCOL_JSON"
  | "PROTOCOL_HEADER"
  | "PROTOCOL_CONTENT"
  | "PROTOCOL_TOO_LARGE"
  | "PROTOCOL_CONNECTION_FILE";

/** Something from outside the kernel (a frame, a connection file) did not match the wire spec. */
export class ProtocolError extends RingbookError {
  declare readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
