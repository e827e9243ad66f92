/**
 * tslab's public API (`import * as tslab from "tslab"`) on ringbook's display, so notebooks written
 * for tslab run unchanged: `tslab.display.html(...)`, `tslab.newDisplay()` and `versions`.
 */
import { randomBytes } from "node:crypto";
import { currentSink } from "./sink.js";

/** tslab's Display: one method per MIME type, and `raw` for any. */
export interface Display {
  javascript(s: string): void;
  html(s: string): void;
  markdown(s: string): void;
  latex(s: string): void;
  svg(s: string): void;
  png(b: Uint8Array): void;
  jpeg(b: Uint8Array): void;
  gif(b: Uint8Array): void;
  pdf(b: Uint8Array): void;
  text(s: string): void;
  raw(contentType: string, b: string | Uint8Array): void;
}

class TslabDisplay implements Display {
  readonly #id: string | undefined;
  #shown = false;
  constructor(id?: string) {
    this.#id = id;
  }
  javascript(s: string): void {
    this.raw("text/javascript", s);
  }
  html(s: string): void {
    this.raw("text/html", s);
  }
  markdown(s: string): void {
    this.raw("text/markdown", s);
  }
  latex(s: string): void {
    this.raw("text/latex", s);
  }
  svg(s: string): void {
    this.raw("image/svg+xml", s);
  }
  png(b: Uint8Array): void {
    this.raw("image/png", b);
  }
  jpeg(b: Uint8Array): void {
    this.raw("image/jpeg", b);
  }
  gif(b: Uint8Array): void {
    this.raw("image/gif", b);
  }
  pdf(b: Uint8Array): void {
    this.raw("application/pdf", b);
  }
  text(s: string): void {
    this.raw("text/plain", s);
  }
  raw(contentType: string, b: string | Uint8Array): void {
    const data = typeof b === "string" ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
    const update = this.#id !== undefined && this.#shown;
    this.#shown = true;
    const message = { data: { [contentType]: data }, metadata: {}, update };
    currentSink().display(this.#id === undefined ? message : { ...message, displayId: this.#id });
  }
}

/** Versions, as tslab reports them (`tslab` is this shim's compatibility level). */
export const versions = { tslab: "1.0.22-ringbook", typescript: "6.0.3", node: process.version };

/** A display that shows once and then overwrites its single output entry. */
export function newDisplay(): Display {
  return new TslabDisplay(randomBytes(8).toString("hex"));
}

/** Displays rich content in the running cell. */
export const display: Display = new TslabDisplay();
