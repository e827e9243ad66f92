/**
 * A `tf.io.IOHandler` for the local file system, without tfjs-node: `model.save(fileSystem(dir))`
 * and `tf.loadLayersModel(fileSystem(dir))`, and the same through `file://` URLs once
 * {@link registerFileSystemRouter} ran (importing ringbook runs it).
 */
import { basename, dirname } from "node:path";
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { replaceDirectory, readableDirectory } from "./atomic-directory.js";
import { readModelFiles, variablesJsonName, writeModelFiles } from "./model-files.js";

/** Options of {@link fileSystem}. */
export interface FileSystemOptions {
  /**
   * Split the saved weights into files of at most this many bytes (`group1-shard1of3.bin`, ...);
   * loading reads any number of shards. @default one file, `weights.bin`
   */
  shardBytes?: number;
}

/** Entries that mark a directory as a model's (or a checkpoint's), which a save may replace. */
const modelMarkers = ["model.json", variablesJsonName, "ringbook-checkpoint.json"];

/** True when a directory's entries are those of a saved model or checkpoint. */
export function isModelDirectory(entries: readonly string[]): boolean {
  return entries.some((entry) => modelMarkers.includes(entry));
}

/**
 * An IO handler that saves a model as a directory in the tfjs format (`model.json` and
 * `weights.bin`) and loads one from it. `path` is the directory, or its `model.json`; a `file://`
 * prefix is allowed (`file://runs/x` is relative to the working directory, `file:///tmp/x`
 * absolute).
 *
 * A save replaces the whole directory atomically: the files are written (and flushed) into a
 * temporary sibling that is then renamed into place, so a crash or a failed write leaves the
 * previous model complete and loadable, never half of each. A directory that holds other files
 * than a model's is refused rather than replaced. A load reads every weights file the manifest
 * names (sharded models too) and checks their sizes against it.
 * @example
 * await model.save(fileSystem("runs/exp3"));
 * const again = await tf.loadLayersModel(fileSystem("runs/exp3"));
 */
export function fileSystem(path: string, options: FileSystemOptions = {}): tf.io.IOHandler {
  if (typeof path !== "string" || path === "" || path === "file://") {
    throw new RingbookError("ERR_BAD_OPTION", `fileSystem needs a directory path, got ${JSON.stringify(path)}`);
  }
  const location = path.startsWith("file://") ? path.slice("file://".length) : path;
  const named = location.endsWith(".json");
  const dir = named ? dirname(location) : location.replace(/\/+$/, "") || "/";
  const modelJsonName = named ? basename(location) : "model.json";
  return {
    save: async (artifacts) => {
      let info: tf.io.ModelArtifactsInfo | undefined;
      try {
        await replaceDirectory(
          dir,
          async (temporary) => {
            info = await writeModelFiles(temporary, artifacts, { modelJsonName, ...(options.shardBytes === undefined ? {} : { shardBytes: options.shardBytes }) });
          },
          { owns: isModelDirectory, what: "a model" },
        );
      } catch (error) {
        if (error instanceof RingbookError) throw error;
        throw new RingbookError("ERR_MODEL_SAVE", `writing the model to ${dir} failed (the model that was there, if any, is intact): ${(error as Error).message}`, { cause: error });
      }
      return { modelArtifactsInfo: info ?? tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    load: async () => readModelFiles(await readableDirectory(dir, modelJsonName), modelJsonName),
  };
}

/** Set while a router asks the registry whether another handler takes the URL (see {@link routeFile}). */
let consulting = false;

/**
 * Answers `file://` URLs with {@link fileSystem}, unless another handler does: tfjs-node, or
 * another copy of ringbook in the process, registers one too, and two handlers for one URL make
 * tfjs refuse the URL. Asking the registry while `consulting` is set leaves this router out of
 * the answer.
 */
function routeFile(kind: "load" | "save", url: string | string[]): tf.io.IOHandler | null {
  if (consulting || typeof url !== "string" || !url.startsWith("file://")) return null;
  consulting = true;
  let others: number;
  try {
    others = (kind === "load" ? tf.io.getLoadHandlers(url) : tf.io.getSaveHandlers(url)).length;
  } finally {
    consulting = false;
  }
  return others > 0 ? null : fileSystem(url);
}

let registered = false;

/**
 * Registers {@link fileSystem} with tfjs's IO router registry for `file://` URLs, so that
 * `model.save("file://runs/x")` and `tf.loadLayersModel("file://runs/x/model.json")` work without
 * tfjs-node. Idempotent; importing ringbook calls it.
 */
export function registerFileSystemRouter(): void {
  if (registered) return;
  registered = true;
  // tfjs types a router as always returning a handler; its registry skips the null of a URL it does not take.
  tf.io.registerLoadRouter(((url: string | string[]) => routeFile("load", url)) as (url: string | string[]) => tf.io.IOHandler);
  tf.io.registerSaveRouter(((url: string | string[]) => routeFile("save", url)) as (url: string | string[]) => tf.io.IOHandler);
}
