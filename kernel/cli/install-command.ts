import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { jupyterDataDir } from "../server/jupyter-paths.js";
import { UsageError, type Command } from "./command.js";

const usage = `Usage: ringbook install [--user | --sys-prefix | --prefix DIR] [--name NAME] [--display-name NAME]

Installs the ringbook kernelspec so Jupyter can start the kernel.
  --user                 into the user's Jupyter data dir (default; respects $JUPYTER_DATA_DIR)
  --sys-prefix           into the active Python environment ($CONDA_PREFIX, $VIRTUAL_ENV or python3's sys.prefix)
  --prefix DIR           into DIR/share/jupyter/kernels
  --name NAME            kernelspec directory name (default: ringbook)
  --display-name NAME    name shown in front ends (default: "TypeScript (ringbook)")
  --kernel-entry FILE    kernel script to run (default: this package's dist/kernel/main.js)
  --type-check MODE      off, auto, warn or error: passed to the kernel (see ringbook kernel --help)`;

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
    if (typeCheck !== undefined && !["off", "auto", "warn", "error"].includes(typeCheck)) {
      throw new UsageError(`--type-check must be off, auto, warn or error, got ${JSON.stringify(typeCheck)}`);
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

/** The prefix `jupyter kernelspec install --sys-prefix` would use. */
function pythonPrefix(): string {
  const fromEnv = process.env["CONDA_PREFIX"] || process.env["VIRTUAL_ENV"];
  if (fromEnv) return fromEnv;
  const result = spawnSync("python3", ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" });
  const prefix = result.status === 0 ? result.stdout.trim() : "";
  if (prefix === "") throw new UsageError("--sys-prefix: no active environment and python3 could not tell its sys.prefix");
  return prefix;
}
