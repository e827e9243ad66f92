/** Pages of the JupyterLab extension's browser tests: bundled from its test/ folder with its esbuild. */
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "../kernel/helpers.js";

export const extensionDir = join(repoRoot, "extensions", "ringbook-plotly");
export const labextensionDir = join(extensionDir, "labextension");

/** Bundles `extensions/ringbook-plotly/test/<entry>` into `outfile` (an IIFE) and returns the script. */
export async function bundleExtensionPage(entry: string, outfile: string): Promise<string> {
  const esbuild = join(extensionDir, "node_modules", ".bin", "esbuild");
  const result = spawnSync(esbuild, [join(extensionDir, "test", entry), "--bundle", "--format=iife", `--outfile=${outfile}`, "--loader:.svg=text", "--log-level=warning"], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`esbuild failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr}`);
  return readFile(outfile, "utf8");
}

/** Throws a clear error when the labextension has not been built. */
export async function requireBuiltLabextension(): Promise<void> {
  await readFile(join(labextensionDir, "package.json")).catch((error: unknown) => {
    throw new Error(`the labextension is not built (run \`npm run build\`): ${labextensionDir}`, { cause: error });
  });
}
