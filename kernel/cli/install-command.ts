import { spawnSync } from "node:child_process";
import { copyFile, cp, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { jupyterDataDir } from "../server/jupyter-paths.js";
import { nbextensionPlotlyPath } from "../display/plotly-bundle.js";
import { UsageError, type Command } from "./command.js";

const usage = `Usage: ringbook install [--user | --sys-prefix | --prefix DIR] [--name NAME] [--display-name NAME]

Installs the ringbook kernelspec so Jupyter can start the kernel, and into the same data dir
plotly.js for the classic notebook and the JupyterLab extension ringbook-plotly (if built).
  --user                 into the user's Jupyter data dir (default; respects $JUPYTER_DATA_DIR)
  --sys-prefix           into the active Python environment ($CONDA_PREFIX, $VIRTUAL_ENV or python3's sys.prefix)
  --prefix DIR           into DIR/share/jupyter/kernels
  --name NAME            kernelspec directory name (default: ringbook)
  --display-name NAME    name shown in front ends (default: "TypeScript (ringbook)")
  --kernel-entry FILE    kernel script to run (default: this package's dist/kernel/main.js)
  --type-check MODE      warn, error or off: passed to the kernel (see ringbook kernel --help)`;

/** Jupyter's rule for kernelspec names. */
const KERNEL_NAME = /^[a-zA-Z0-9._-]+$/;

/** `ringbook install`: writes a kernelspec directory with kernel.json. */
export const installCommand: Command = {
  name: "install",
  summary: "install the Jupyter kernelspec",
  usage,
  async run(args) {
    const { values } = parseInstallArgs(args);
    const chosen = [values.user, values["sys-prefix"], values.prefix !== undefined].filter(Boolean).length;
    if (chosen > 1) throw new UsageError("choose at most one of --user, --sys-prefix and --prefix");
    const name = values.name ?? "ringbook";
    if (!KERNEL_NAME.test(name)) throw new UsageError(`--name must match ${KERNEL_NAME.source}, got ${JSON.stringify(name)}`);
    const typeCheck = values["type-check"];
    if (typeCheck !== undefined && !["off", "warn", "error", "auto"].includes(typeCheck)) {
      throw new UsageError(`--type-check must be warn, error or off, got ${JSON.stringify(typeCheck)}`);
    }
    const kernelsDir =
      values.prefix !== undefined
        ? join(resolve(values.prefix), "share", "jupyter", "kernels")
        : values["sys-prefix"]
          ? join(pythonPrefix(), "share", "jupyter", "kernels")
          : join(jupyterDataDir(), "kernels");
    const entry = resolve(values["kernel-entry"] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "main.js"));
    const spec = {
      argv: [process.execPath, entry, "--connection-file", "{connection_file}", ...(typeCheck === undefined ? [] : ["--type-check", typeCheck])],
      display_name: values["display-name"] ?? "TypeScript (ringbook)",
      language: "typescript",
      interrupt_mode: "message",
      metadata: { ringbook: { entry, node: process.version } },
    };
    const specDir = join(kernelsDir, name);
    await mkdir(specDir, { recursive: true });
    await writeFile(join(specDir, "kernel.json"), `${JSON.stringify(spec, null, 2)}\n`);
    process.stdout.write(`Installed kernelspec ${name} in ${specDir}\n`);
    const plotly = await installPlotlyForClassicNotebook(dirname(kernelsDir));
    process.stdout.write(`Installed plotly.js for offline plots in the classic notebook: ${plotly}\n`);
    const labextension = await installLabextension(dirname(kernelsDir));
    if (labextension.installed) {
      process.stdout.write(`Installed the JupyterLab extension ringbook-plotly (live Plotly figures) in ${labextension.target}\n`);
    } else {
      process.stderr.write(`Skipped the JupyterLab extension ringbook-plotly: ${labextension.reason}\n`);
    }
    return 0;
  },
};

function parseInstallArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        user: { type: "boolean" },
        "sys-prefix": { type: "boolean" },
        prefix: { type: "string" },
        name: { type: "string" },
        "display-name": { type: "string" },
        "kernel-entry": { type: "string" },
        "type-check": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

/**
 * Copies plotly.js next to the kernelspec, into `<data dir>/nbextensions/ringbook/`, which the
 * classic notebook server serves at `<base url>/nbextensions/ringbook/plotly.min.js`: plots draw
 * offline there (see display/plotly-bundle). Skipped when an identical copy is in place.
 */
async function installPlotlyForClassicNotebook(dataDir: string): Promise<string> {
  const source = createRequire(import.meta.url).resolve("plotly.js-dist");
  const target = join(dataDir, nbextensionPlotlyPath);
  const [from, to] = await Promise.all([stat(source), stat(target).catch(() => undefined)]);
  if (to === undefined || to.size !== from.size) {
    await mkdir(dirname(target), { recursive: true });
    await copyFile(source, target);
  }
  return target;
}

/** This package's prebuilt JupyterLab extension (scripts/build-extension.mjs writes it). */
const labextensionSource = fileURLToPath(new URL("../../../extensions/ringbook-plotly/labextension", import.meta.url));

/** `value[key]` when value is an object: a step through parsed JSON without casting it. */
function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** Why `dir` is not a built labextension (its package.json names a remote entry that exists), if it is not. */
async function whyNotBuilt(dir: string): Promise<string | undefined> {
  const manifestPath = join(dir, "package.json");
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(manifestPath, "utf8"));
  } catch (error) {
    return `it is not built (${(error as NodeJS.ErrnoException).code ?? String(error)} reading ${manifestPath}); run \`npm run build\` in ringbook's folder`;
  }
  const load = field(field(field(manifest, "jupyterlab"), "_build"), "load");
  if (typeof load !== "string") return `${manifestPath} has no jupyterlab._build.load: not a built labextension`;
  if ((await stat(join(dir, load)).catch(() => undefined)) === undefined) return `${join(dir, load)} is missing: rebuild with \`npm run build\``;
  return undefined;
}

/**
 * Copies the prebuilt labextension to `<data dir>/labextensions/ringbook-plotly/`, where
 * JupyterLab 4 finds prebuilt extensions at start-up (no rebuild of JupyterLab). The old copy is
 * replaced whole, so no stale chunk is left beside the new remote entry.
 */
async function installLabextension(dataDir: string): Promise<{ installed: true; target: string } | { installed: false; reason: string }> {
  const reason = await whyNotBuilt(labextensionSource);
  if (reason !== undefined) return { installed: false, reason };
  const target = join(dataDir, "labextensions", "ringbook-plotly");
  await rm(target, { recursive: true, force: true });
  await cp(labextensionSource, target, { recursive: true });
  return { installed: true, target };
}

/** The prefix `jupyter kernelspec install --sys-prefix` would use. */
function pythonPrefix(): string {
  const fromEnv = process.env["CONDA_PREFIX"] || process.env["VIRTUAL_ENV"];
  if (fromEnv) return fromEnv;
  const result = spawnSync("python3", ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" });
  const prefix = result.status === 0 ? result.stdout.trim() : "";
  if (prefix === "") throw new UsageError("--sys-prefix: no active environment and python3 could not tell its sys.prefix");
  return prefix;
}
