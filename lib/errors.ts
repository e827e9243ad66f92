/**
 * Base class for ringbook's errors: a stable `code` to branch on, and a message that carries the
 * offending value and the state it was met in.
 */
export class RingbookError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
