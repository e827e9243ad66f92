/**
 * The packages ringbook ships with that user code imports itself (tfjs), for notebooks whose
 * folder does not have them: `import * as tf from "@tensorflow/tfjs"` in a cell, a `%%workers`
 * cell or a task, in a notebook anywhere, gets ringbook's copy (the one its training, `saveModel`
 * and `loadModel` use, so tensors and models pass between them) instead of "Cannot find package".
 * A notebook folder that has its own copy (in its node_modules or a parent's) keeps it. Decided
 * when the kernel, or a worker, starts.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/** Specifiers that fall back to ringbook's copy (the tfjs-node ones only where they are installed). */
export const bundledSpecifiers = [
  "@tensorflow/tfjs",
  "@tensorflow/tfjs-core",
  "@tensorflow/tfjs-layers",
  "@tensorflow/tfjs-data",
  "@tensorflow/tfjs-backend-wasm",
  "@tensorflow/tfjs-node",
  "@tensorflow/tfjs-node-gpu",
] as const;

/** A package a cell gets from ringbook's install. */
export interface BundledPackage {
  readonly specifier: string;
  /** The file an import of the specifier loads (as ringbook's own modules resolve it). */
  readonly url: string;
  /** The package's folder (its package.json names its types). */
  readonly dir: string;
}

/** What was decided for each notebook folder in this thread (once: the kernel's or worker's start). */
const decided = new Map<string, readonly BundledPackage[]>();

/** The bundled packages that `cwd` cannot resolve and ringbook's install can. */
export function bundledFallbacks(cwd: string): readonly BundledPackage[] {
  let fallbacks = decided.get(cwd);
  if (fallbacks === undefined) {
    fallbacks = resolveFallbacks(cwd);
    decided.set(cwd, fallbacks);
  }
  return fallbacks;
}

function resolveFallbacks(cwd: string): BundledPackage[] {
  const fromNotebook = createRequire(join(cwd, "__ringbook_cell__.js"));
  const fromRingbook = createRequire(import.meta.url);
  const fallbacks: BundledPackage[] = [];
  for (const specifier of bundledSpecifiers) {
    if (resolvedBy(fromNotebook, specifier) !== undefined) continue;
    const main = resolvedBy(fromRingbook, specifier);
    const manifest = resolvedBy(fromRingbook, `${specifier}/package.json`);
    if (main === undefined || manifest === undefined) continue;
    fallbacks.push({ specifier, url: pathToFileURL(main).href, dir: dirname(manifest) });
  }
  return fallbacks;
}

/** Import aliases (specifier → file URL) for {@link bundledFallbacks}. */
export function bundledAliases(cwd: string): Record<string, string> {
  return Object.fromEntries(bundledFallbacks(cwd).map((fallback) => [fallback.specifier, fallback.url]));
}

/** `paths` entries that give the fallbacks their types (a package folder: its package.json's `types`). */
export function bundledTypePaths(cwd: string): Record<string, string[]> {
  return Object.fromEntries(bundledFallbacks(cwd).map((fallback) => [fallback.specifier, [fallback.dir]]));
}

function resolvedBy(require: NodeJS.Require, specifier: string): string | undefined {
  try {
    return require.resolve(specifier);
  } catch {
    return undefined;
  }
}
