/** Checks of the entry bundles `npm run build` makes (scripts/bundle-entries.mjs). */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

/**
 * Checks that the bundle at `bundlePath` imports nothing but ZeroMQ and Node's builtins, and no
 * module at run time (a dynamic import would resolve relative to the bundle); returns its imports.
 */
export async function checkedBundleImports(bundlePath: string): Promise<string[]> {
  const text = await readFile(bundlePath, "utf8");
  const specifiers = [...text.matchAll(/^import .* from '([^']+)';$/gm)].flatMap((match) => (match[1] === undefined ? [] : [match[1]]));
  for (const specifier of specifiers) assert.ok(specifier === "zeromq" || specifier.startsWith("node:"), `unexpected import ${specifier}`);
  assert.doesNotMatch(text, /\bimport\(/, "no dynamic imports left to resolve relative to the bundle");
  return specifiers;
}
