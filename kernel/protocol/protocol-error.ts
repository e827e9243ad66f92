import { RingbookError, type ErrorCode } from "../../lib/errors.js";

/** Stable codes of {@link ProtocolError}; branch on these, not on messages. */
export type ProtocolErrorCode = Extract<ErrorCode, `PROTOCOL_${string}`>;

/** Something from outside the kernel (a frame, a connection file) did not match the wire spec. */
export class ProtocolError extends RingbookError {
  declare readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
