/**
 * Kernel entry point, as named in the kernelspec:
 * `node dist/kernel/main.js --connection-file FILE` (or `-f FILE`).
 */
import { UsageError } from "./cli/command.js";
import { kernelCommand } from "./cli/kernel-command.js";

try {
  process.exitCode = await kernelCommand.run(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`ringbook kernel: ${(error as Error).message}\n`);
  if (error instanceof UsageError) process.stderr.write(`\n${kernelCommand.usage}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
