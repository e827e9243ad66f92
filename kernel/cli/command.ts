import { RingbookError } from "../../lib/errors.js";

/** One `ringbook <name>` subcommand; each lives in its own file and is listed in cli.ts. */
export interface Command {
  name: string;
  /** One line for `ringbook --help`. */
  summary: string;
  /** Full usage text, printed for `--help` and on bad arguments. */
  usage: string;
  /** Runs with the arguments after the subcommand name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

/** Bad command-line arguments: the CLI prints the message and usage, and exits with 2. */
export class UsageError extends RingbookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CLI_USAGE", message, options);
  }
}
