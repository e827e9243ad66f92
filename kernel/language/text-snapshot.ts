/**
 * A script snapshot that tells TypeScript what changed since the previous one (the common prefix
 * and suffix), so that the notebook module, which is rebuilt for every request with only the
 * edited cell (and a few blanked declarations) changed, is parsed incrementally instead of anew.
 */
import type * as ts from "typescript";

/** An immutable text with {@link ts.IScriptSnapshot.getChangeRange} against an older one. */
export class TextSnapshot implements ts.IScriptSnapshot {
  readonly #ts: typeof ts;
  readonly text: string;

  constructor(typescript: typeof ts, text: string) {
    this.#ts = typescript;
    this.text = text;
  }

  getText(start: number, end: number): string {
    return this.text.slice(start, end);
  }

  getLength(): number {
    return this.text.length;
  }

  getChangeRange(oldSnapshot: ts.IScriptSnapshot): ts.TextChangeRange | undefined {
    if (!(oldSnapshot instanceof TextSnapshot)) return undefined;
    const before = oldSnapshot.text;
    const after = this.text;
    const shorter = Math.min(before.length, after.length);
    let prefix = 0;
    while (prefix < shorter && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
    let suffix = 0;
    while (suffix < shorter - prefix && before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)) suffix++;
    const span = this.#ts.createTextSpan(prefix, before.length - prefix - suffix);
    return this.#ts.createTextChangeRange(span, after.length - prefix - suffix);
  }
}
