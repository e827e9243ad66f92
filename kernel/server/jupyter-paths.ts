import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Jupyter's user data directory, as jupyter_core computes it: `$JUPYTER_DATA_DIR`, else
 * `$XDG_DATA_HOME/jupyter` or `~/.local/share/jupyter` on Linux, `~/Library/Jupyter` on macOS,
 * `%APPDATA%\jupyter` on Windows.
 */
export function jupyterDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env["JUPYTER_DATA_DIR"]) return env["JUPYTER_DATA_DIR"];
  if (process.platform === "darwin") return join(homedir(), "Library", "Jupyter");
  if (process.platform === "win32") return join(env["APPDATA"] ?? join(homedir(), "AppData", "Roaming"), "jupyter");
  return join(env["XDG_DATA_HOME"] || join(homedir(), ".local", "share"), "jupyter");
}

/** Where kernel history is persisted: `$RINGBOOK_HISTORY_FILE`, else `<data dir>/ringbook/history.jsonl`. */
export function historyFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env["RINGBOOK_HISTORY_FILE"] || join(jupyterDataDir(env), "ringbook", "history.jsonl");
}
