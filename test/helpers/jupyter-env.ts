import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess } from "./run-process.js";

/** Debian's Python, which has jupyter_client, nbclient and jupyter_kernel_test. */
export const debianPython = "/usr/bin/python3";

const cli = fileURLToPath(new URL("../../kernel/cli.js", import.meta.url));

/**
 * A private Jupyter environment with the ringbook kernelspec installed by `ringbook install`:
 * JUPYTER_PATH/JUPYTER_DATA_DIR/JUPYTER_RUNTIME_DIR point into a temporary folder, never at the
 * user's own (`ringbook install` also puts plotly.js in its `nbextensions/ringbook/`, which the
 * classic notebook serves from JUPYTER_PATH). `close()` removes it.
 */
export async function createJupyterEnv(options: { kernelName?: string } = {}): Promise<{ dir: string; env: NodeJS.ProcessEnv; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "ringbook-jupyter-"));
  const result = await runProcess(process.execPath, [cli, "install", "--prefix", dir, ...(options.kernelName === undefined ? [] : ["--name", options.kernelName])]);
  if (result.code !== 0) throw new Error(`ringbook install failed: ${result.stderr}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_PATH: join(dir, "share", "jupyter"),
    JUPYTER_DATA_DIR: join(dir, "data"),
    JUPYTER_RUNTIME_DIR: join(dir, "runtime"),
    JUPYTER_CONFIG_DIR: join(dir, "config"),
    IPYTHONDIR: join(dir, "ipython"),
    RINGBOOK_HISTORY_FILE: join(dir, "history.jsonl"),
    PYDEVD_DISABLE_FILE_VALIDATION: "1",
  };
  return { dir, env, close: () => rm(dir, { recursive: true, force: true }) };
}
