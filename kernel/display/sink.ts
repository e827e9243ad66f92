/**
 * Where the display API (usable from any module a cell imports) sends its messages: the notebook
 * host's displays (see lib/notebook-host.ts), which the kernel's cell thread installs. Outside the
 * kernel there is no host and displays fall back to printing their `text/plain`.
 */
import { notebookHost, type DisplaySink } from "../../lib/notebook-host.js";

export type { DisplayMessage, DisplaySink } from "../../lib/notebook-host.js";

/** Prints a display's text when no notebook shows it. */
const printingSink: DisplaySink = {
  display(message) {
    const text = message.data["text/plain"];
    console.log(typeof text === "string" ? text : Object.keys(message.data).join(", "));
  },
  clearOutput() {},
};

/** The host's sink, or one that prints plain text when running outside the kernel. */
export function currentSink(): DisplaySink {
  return notebookHost()?.displays ?? printingSink;
}
