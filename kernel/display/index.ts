/**
 * The display API of ringbook cells, also importable as `ringbook/display`:
 * `display(value)`, `display.html(...)`, `display.plotly(figure)`, handles that update in place
 * (`display.create()`), and `clearOutput()`.
 * @example
 * import { display } from "ringbook/display";
 * const progress = display.create();
 * for (let i = 0; i <= 10; i++) progress.markdown(`**${i * 10}%**`);
 */
import { randomUUID } from "node:crypto";
import { currentSink } from "./sink.js";
import { plotlyMetadata } from "./plotly-bundle.js";
import { plotlyFigureProblem, plotlyBundle, toBase64, toMimeBundle, type MimeData, type PlotlyBundleOptions, type PlotlyFigure } from "./mime-bundle.js";

export { mimeBundleSymbol, toMimeBundle, type MimeData, type PlotlyFigure, type CustomMimeBundle } from "./mime-bundle.js";

/** Methods shared by the `display` function and by display handles. */
export interface DisplayMethods {
  /** Shows any value: its own MIME bundle, a Plotly figure, or `util.inspect` text. */
  value(value: unknown): void;
  html(html: string): void;
  markdown(markdown: string): void;
  svg(svg: string): void;
  /** PNG bytes, or base64 text. */
  png(bytes: Uint8Array | string): void;
  jpeg(bytes: Uint8Array | string): void;
  gif(bytes: Uint8Array | string): void;
  pdf(bytes: Uint8Array | string): void;
  json(value: unknown): void;
  text(text: string): void;
  latex(latex: string): void;
  javascript(code: string): void;
  /** A Plotly figure: interactive where plotly.js runs, a static SVG elsewhere; `text` is its text/plain. */
  plotly(figure: PlotlyFigure, options?: PlotlyBundleOptions): void;
  /** A raw bundle (MIME type → data) with optional metadata. */
  bundle(data: MimeData, metadata?: Record<string, unknown>): void;
}

/** A display that updates in place: the first call shows it, later calls replace it. */
export interface DisplayHandle extends DisplayMethods {
  readonly displayId: string;
  /** Replaces the display with `value` (same as {@link DisplayMethods.value}). */
  update(value: unknown): void;
}

/** The `display` global: call it with a value, or use its methods. */
export interface Display extends DisplayMethods {
  (value: unknown): void;
  /** A new handle; shows `initial` right away when given. */
  create(initial?: unknown): DisplayHandle;
  /** Clears the cell's output; with `wait`, only when the next output arrives. */
  clearOutput(options?: { wait?: boolean }): void;
}

/** Builds the display methods over one emit function. */
export function displayMethods(emit: (data: MimeData, metadata: Record<string, unknown>) => void): DisplayMethods {
  return {
    value: (value) => {
      const { data, metadata } = toMimeBundle(value);
      emit(data, metadata);
    },
    html: (html) => emit({ "text/html": html }, {}),
    markdown: (markdown) => emit({ "text/markdown": markdown }, {}),
    svg: (svg) => emit({ "image/svg+xml": svg }, {}),
    png: (bytes) => emit({ "image/png": toBase64(bytes) }, {}),
    jpeg: (bytes) => emit({ "image/jpeg": toBase64(bytes) }, {}),
    gif: (bytes) => emit({ "image/gif": toBase64(bytes) }, {}),
    pdf: (bytes) => emit({ "application/pdf": toBase64(bytes) }, {}),
    json: (value) => emit({ "application/json": value, "text/plain": JSON.stringify(value, null, 2) ?? "undefined" }, {}),
    text: (text) => emit({ "text/plain": text }, {}),
    latex: (latex) => emit({ "text/latex": latex }, {}),
    javascript: (code) => emit({ "application/javascript": code }, {}),
    plotly: (figure, options) => {
      const problem = plotlyFigureProblem(figure);
      if (problem !== undefined) throw new TypeError(`display.plotly expects a Plotly figure { data: [...traces], layout?: {...} }: ${problem}`);
      emit(plotlyBundle(figure, options), plotlyMetadata(options));
    },
    bundle: (data, metadata = {}) => emit(data, metadata),
  };
}

/** A handle whose first output is a new display and whose later outputs update it. */
export function createDisplayHandle(displayId: string = randomUUID()): DisplayHandle {
  let shown = false;
  const methods = displayMethods((data, metadata) => {
    currentSink().display({ data, metadata, displayId, update: shown });
    shown = true;
  });
  return { ...methods, displayId, update: methods.value };
}

function createDisplay(): Display {
  const methods = displayMethods((data, metadata) => currentSink().display({ data, metadata, update: false }));
  const show = (value: unknown): void => methods.value(value);
  return Object.assign(show, methods, {
    create(initial?: unknown): DisplayHandle {
      const handle = createDisplayHandle();
      if (initial !== undefined) handle.value(initial);
      return handle;
    },
    clearOutput(options: { wait?: boolean } = {}): void {
      currentSink().clearOutput(options.wait ?? false);
    },
  });
}

/** Shows values and rich content in the running cell's output. */
export const display: Display = createDisplay();

/** Clears the running cell's output (`wait`: when the next output arrives). */
export function clearOutput(options: { wait?: boolean } = {}): void {
  display.clearOutput(options);
}

export default display;
