/**
 * The benchmarks' command lines: `--help` (or `-h`) prints a bench's usage, and an unknown or
 * malformed option stops it with node's reason and the usage (exit 2), never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** node:util's parseArgs, strict, for a bench whose usage text is `usage`. */
export function parseBenchArgs<const T extends ParseArgsConfig>(usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  const args = config.args ?? process.argv.slice(2);
  const beforeSeparator = args.includes("--") ? args.slice(0, args.indexOf("--")) : args;
  if (beforeSeparator.includes("--help") || beforeSeparator.includes("-h")) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (error) {
    if (!(error instanceof Error && "code" in error && typeof error.code === "string" && error.code.startsWith("ERR_PARSE_ARGS"))) throw error;
    process.stderr.write(`${error.message}\n\n${usage}\n`);
    process.exit(2);
  }
}
