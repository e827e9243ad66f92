/**
 * A worker's entry module as `npm run build` bundled it (scripts/bundle-entries.mjs) where that
 * bundle exists beside the module, else the module itself. After a rebuild by `tsc` alone the
 * bundle stays as it was until the script runs again (test/run.mjs runs it when it finds the
 * bundles older than the modules).
 */
import { existsSync } from "node:fs";

/** `./<name>.bundle.js` beside `beside` (the calling module's own URL) if it exists, else `./<name>.js`. */
export function builtEntry(name: string, beside: string): URL {
  const bundle = new URL(`./${name}.bundle.js`, beside);
  return existsSync(bundle) ? bundle : new URL(`./${name}.js`, beside);
}
