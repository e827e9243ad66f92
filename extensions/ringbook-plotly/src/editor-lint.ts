/**
 * Shows a cell's type errors in its CodeMirror 6 editor (JupyterLab 4's) with @codemirror/lint:
 * a wavy underline over each error's range, and its message with the TypeScript code on hover.
 * `setDiagnostics` installs the lint state in an editor the first time, and replaces every
 * diagnostic it shows each time (an empty list clears them).
 */
import { setDiagnostics, type Diagnostic } from "@codemirror/lint";
import type { Text } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import type { CellTypeError } from "./diagnostics-protocol.js";

/** The CodeMirror view of a JupyterLab editor, when it is one (JupyterLab 4's CodeMirrorEditor). */
export function editorViewOf(editor: unknown): EditorView | undefined {
  if (typeof editor !== "object" || editor === null || !("editor" in editor)) return undefined;
  const view = editor.editor;
  return view instanceof EditorView ? view : undefined;
}

/** The offset of a 1-based line and column in `doc`, clamped to the line (and the document). */
export function offsetOf(doc: Text, line: number, column: number): number {
  if (line > doc.lines) return doc.length;
  const at = doc.line(line);
  return Math.min(at.to, at.from + column - 1);
}

/** Replaces the type errors `view` shows with `errors` (positions within the view's text). */
export function showTypeErrors(view: EditorView, errors: readonly CellTypeError[]): void {
  const doc = view.state.doc;
  const diagnostics: Diagnostic[] = errors.map((error) => {
    const from = offsetOf(doc, error.line, error.column);
    const to = Math.max(from, offsetOf(doc, error.endLine, error.endColumn));
    return { from, to, severity: "error", source: `TS${error.code}`, message: error.message };
  });
  view.dispatch(setDiagnostics(view.state, diagnostics));
}
