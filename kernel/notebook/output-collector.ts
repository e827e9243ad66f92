import { isJsonObject, type JsonObject } from "../protocol/json-guards.js";
import type { WireMessage } from "../protocol/wire-types.js";
import type { CodeCell, NotebookOutput } from "./notebook-file.js";

/**
 * Turns a cell's iopub messages into nbformat outputs as nbclient does: consecutive stream text
 * merges, `clear_output(wait)` clears at the next output, and `update_display_data` rewrites every
 * earlier output with that display_id, in this cell or an earlier one.
 */
export class OutputCollector {
  /** display_id → the outputs showing it. */
  readonly #displays = new Map<string, Array<Extract<NotebookOutput, { output_type: "display_data" | "execute_result" }>>>();
  #clearPending = new WeakSet<CodeCell>();

  /** Applies one iopub message to `cell`; returns true when the cell's outputs changed. */
  apply(cell: CodeCell, message: WireMessage): boolean {
    const content = message.content;
    switch (message.header.msg_type) {
      case "stream": {
        const name = content["name"] === "stderr" ? "stderr" : "stdout";
        const text = typeof content["text"] === "string" ? content["text"] : "";
        this.#clearIfPending(cell);
        const last = cell.outputs.at(-1);
        if (last?.output_type === "stream" && last.name === name) last.text += text;
        else cell.outputs.push({ output_type: "stream", name, text });
        return true;
      }
      case "display_data":
      case "execute_result": {
        this.#clearIfPending(cell);
        const data = objectOr(content["data"]);
        const metadata = objectOr(content["metadata"]);
        const output =
          message.header.msg_type === "execute_result"
            ? { output_type: "execute_result" as const, data, metadata, execution_count: typeof content["execution_count"] === "number" ? content["execution_count"] : null }
            : { output_type: "display_data" as const, data, metadata };
        cell.outputs.push(output);
        const displayId = displayIdOf(content);
        if (displayId !== undefined) this.#displays.set(displayId, [...(this.#displays.get(displayId) ?? []), output]);
        return true;
      }
      case "update_display_data": {
        const displayId = displayIdOf(content);
        const targets = displayId === undefined ? undefined : this.#displays.get(displayId);
        if (targets === undefined) return false;
        for (const output of targets) {
          output.data = objectOr(content["data"]);
          output.metadata = objectOr(content["metadata"]);
        }
        return true;
      }
      case "clear_output": {
        if (content["wait"] === true) {
          this.#clearPending.add(cell);
          return false;
        }
        cell.outputs = [];
        return true;
      }
      case "error": {
        this.#clearIfPending(cell);
        cell.outputs.push({
          output_type: "error",
          ename: String(content["ename"] ?? "Error"),
          evalue: String(content["evalue"] ?? ""),
          traceback: Array.isArray(content["traceback"]) ? content["traceback"].map(String) : [],
        });
        return true;
      }
      default:
        return false;
    }
  }

  #clearIfPending(cell: CodeCell): void {
    if (this.#clearPending.has(cell)) {
      this.#clearPending.delete(cell);
      cell.outputs = [];
    }
  }
}

function objectOr(value: unknown): JsonObject {
  return isJsonObject(value) ? value : {};
}

function displayIdOf(content: JsonObject): string | undefined {
  const transient = content["transient"];
  const id = isJsonObject(transient) ? transient["display_id"] : undefined;
  return typeof id === "string" ? id : undefined;
}
