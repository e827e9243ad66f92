/**
 * Loads `@tensorflow/tfjs` for the first time in this thread (lib/tfjs.cts then gets it from
 * `require`'s cache), without the two packages a worker does not start with.
 *
 * The union's bundle registers tfjs-core's gradients and chained ops (`x.mul(y)`), re-exports seven
 * packages and requires them all as it loads. The converter (`loadGraphModel`...) and the webgl
 * backend (no WebGL in Node) are 2.2 of its ~7 MB of JavaScript, about 45 ms of the ~205 ms of CPU
 * the union takes to load here. While the union loads, `require`'s cache (which Node lets code add
 * entries to) holds a stand-in for each of them: an object with the package's export names, each
 * read of which loads the real package, except its `version_*` string, which the union reads at
 * once for `tf.version` and which is the pinned release's. So `tf.loadGraphModel` is the real
 * function, read through one more getter, and the package loads at its first use.
 * test/backend/tfjs-first-load.test.ts holds the result to the union loaded plainly.
 */
import nodeModule = require("node:module");

/** The release the export names below are tfjs's (package.json pins it). */
const pinnedRelease = "4.22.0";

interface Deferred {
  readonly specifier: string;
  /** Its exports as the union reads them; the version string is answered without loading it. */
  readonly exportNames: readonly string[];
  readonly versionName: string;
}

const deferredPackages: readonly Deferred[] = [
  {
    specifier: "@tensorflow/tfjs-converter",
    exportNames: ["GraphModel", "deregisterOp", "loadGraphModel", "loadGraphModelSync", "registerOp", "version_converter"],
    versionName: "version_converter",
  },
  {
    specifier: "@tensorflow/tfjs-backend-webgl",
    exportNames: ["GPGPUContext", "MathBackendWebGL", "forceHalfFloat", "gpgpu_util", "setWebGLContext", "version_webgl", "webgl", "webgl_util"],
    versionName: "version_webgl",
  },
];

/** Resolves as `@tensorflow/tfjs` itself does, so that each package is the one the union uses. */
const requireAsUnion = nodeModule.createRequire(require.resolve("@tensorflow/tfjs"));

function releaseOf(specifier: string): unknown {
  const manifest: unknown = requireAsUnion(`${specifier}/package.json`);
  return typeof manifest === "object" && manifest !== null && "version" in manifest ? manifest.version : undefined;
}

/** A stand-in for `deferred`, placed in `require`'s cache at `file`; it leaves the cache at its first real read. */
function cacheStandIn(deferred: Deferred, file: string): () => void {
  const standIn: Record<string, unknown> = {};
  const entry = new nodeModule.Module(file);
  const leaveCache = (): void => {
    if (require.cache[file] === entry) delete require.cache[file];
  };
  let real: Record<string, unknown> | undefined;
  const load = (): Record<string, unknown> => {
    leaveCache();
    return (real ??= requireAsUnion(deferred.specifier));
  };
  for (const name of deferred.exportNames) {
    const read = name === deferred.versionName ? () => pinnedRelease : () => load()[name];
    Object.defineProperty(standIn, name, { enumerable: true, get: read });
  }
  entry.filename = file;
  entry.exports = standIn;
  entry.loaded = true;
  require.cache[file] = entry;
  return leaveCache;
}

function loadTfjs(): void {
  if (require.cache[requireAsUnion.resolve("@tensorflow/tfjs")] !== undefined) return;
  const leaveCache: (() => void)[] = [];
  // Another release may export other names: then every package loads as the union asks.
  const packages = ["@tensorflow/tfjs", ...deferredPackages.map((deferred) => deferred.specifier)];
  if (packages.every((specifier) => releaseOf(specifier) === pinnedRelease)) {
    for (const deferred of deferredPackages) {
      const file = requireAsUnion.resolve(deferred.specifier);
      if (require.cache[file] === undefined) leaveCache.push(cacheStandIn(deferred, file));
    }
  }
  try {
    requireAsUnion("@tensorflow/tfjs");
  } finally {
    for (const leave of leaveCache) leave();
  }
}

loadTfjs();
