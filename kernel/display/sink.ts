/**
 * The seam between the display API (usable from any module a cell imports) and the kernel's cell
 * worker, which installs the sink on `globalThis`. Outside the kernel there is no sink and displays
 * fall back to printing their `text/plain`.
 */
import type { MimeData } from "./mime-bundle.js";

/** One display call. `update` means "replace the output with this display id". */
export interface DisplayMessage {
  data: MimeData;
  metadata: Record<string, unknown>;
  displayId?: string;
  update: boolean;
}

/** Installed by the kernel's cell worker; routes displays to the cell that is running. */
export interface DisplaySink {
  display(message: DisplayMessage): void;
  clearOutput(wait: boolean): void;
}

/** `globalThis[displaySinkSymbol]` holds the {@link DisplaySink}. */
export const displaySinkSymbol = Symbol.for("ringbook.displaySink");

/** The installed sink, or one that prints plain text when running outside the kernel. */
export function currentSink(): DisplaySink {
  const sink = (globalThis as Record<symbol, unknown>)[displaySinkSymbol];
  if (typeof sink === "object" && sink !== null) return sink as DisplaySink;
  return {
    display(message) {
      const text = message.data["text/plain"];
      console.log(typeof text === "string" ? text : Object.keys(message.data).join(", "));
    },
    clearOutput() {},
  };
}
