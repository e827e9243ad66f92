#!/usr/bin/env node
/**
 * The `ringbook` command. Subcommands live in kernel/cli/<name>-command.ts and are listed here;
 * adding one (e.g. `ringbook run NOTEBOOK`) means writing its file and adding it to `commands`.
 */
import { UsageError, type Command } from "./cli/command.js";
import { installCommand } from "./cli/install-command.js";
import { kernelCommand } from "./cli/kernel-command.js";
import { runCommand } from "./cli/run-command.js";

const commands: readonly Command[] = [installCommand, kernelCommand, runCommand];

const overview = `Usage: ringbook <command> [options]

Commands:
${commands.map((command) => `  ${command.name.padEnd(10)} ${command.summary}`).join("\n")}

Run "ringbook <command> --help" for a command's options.`;

/** Runs the CLI with `args` (without node and script); resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? process.stderr : process.stdout).write(`${overview}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (command === undefined) {
    process.stderr.write(`ringbook: unknown command ${JSON.stringify(name)}\n\n${overview}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`ringbook ${command.name}: ${error.message}\n\n${command.usage}\n`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`ringbook: ${(error as Error).stack ?? String(error)}\n`);
  return 1;
});
