/** What a cell sees besides its notebook: the kernel's globals, and ringbook's own modules' types. */
import { join } from "node:path";

/** Declarations of the globals the cell thread defines (`display`, `input`, `comms`). */
export function globalsDeclarations(packageRoot: string): string {
  const displayTypes = join(packageRoot, "dist/kernel/display/index.js");
  const commsTypes = join(packageRoot, "dist/kernel/execution/worker-comms.js");
  return [
    `declare const display: import(${JSON.stringify(displayTypes)}).Display;`,
    `/** Reads a line from the front end; rejects when the front end does not accept input. */`,
    `declare const input: { (prompt?: string, options?: { password?: boolean }): Promise<string>; password(prompt?: string): Promise<string> };`,
    `/** Jupyter comms: targets the front end opens, and comms the kernel opens. */`,
    `declare const comms: import(${JSON.stringify(commsTypes)}).Comms;`,
  ].join("\n");
}

/** `paths` entries that give `ringbook`, `ringbook/display` and `tslab` their types. */
export function ringbookTypePaths(packageRoot: string): Record<string, string[]> {
  const packageTypes = join(packageRoot, "dist");
  return {
    ringbook: [join(packageTypes, "lib/index.d.ts")],
    "ringbook/display": [join(packageTypes, "kernel/display/index.d.ts")],
    tslab: [join(packageTypes, "kernel/display/tslab.d.ts")],
  };
}
