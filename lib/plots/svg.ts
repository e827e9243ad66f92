import { colorAt, type Axis, type Figure, type ScatterTrace } from "./figure.js";

/**
 * A static SVG drawing of a figure's line and stacked-area traces, for viewers that run no script
 * (GitHub, nbconvert to HTML or PDF, the classic notebook before plotly loads). Not a Plotly
 * replacement: axes, ticks, lines, areas and a legend; bars are drawn as lines.
 */
export function figureToSvg(figure: Figure, size: { width?: number; height?: number } = {}): string {
  const width = size.width ?? figure.layout.width ?? 760;
  const height = size.height ?? figure.layout.height ?? 400;
  const margin = { l: 64, r: 150, t: figure.layout.title ? 32 : 12, b: 36 };
  const plotWidth = width - margin.l - margin.r;
  const plotHeight = height - margin.t - margin.b;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (figure.layout.title) out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(titleText(figure.layout.title))}</text>`);
  const scatter = figure.data.filter((t): t is ScatterTrace => t.type === "scatter");
  const panels = new Map<string, ScatterTrace[]>();
  for (const trace of scatter) {
    const key = trace.yaxis ?? "y";
    panels.set(key, [...(panels.get(key) ?? []), trace]);
  }
  for (const [yKey, traces] of panels) {
    const axisName = yKey === "y" ? "yaxis" : `yaxis${yKey.slice(1)}`;
    const yAxis: Axis = (figure.layout[axisName as `yaxis${string}`] as Axis | undefined) ?? {};
    const [d0, d1] = yAxis.domain ?? [0, 1];
    const top = margin.t + (1 - d1) * plotHeight;
    const panelHeight = (d1 - d0) * plotHeight - 14;
    const series = stackSeries(traces);
    const log = yAxis.type === "log";
    const tr = (v: number): number => (log ? Math.log10(Math.max(v, 1e-30)) : v);
    // One pass over every point (the live view redraws this several times a second).
    let xMin = Number.POSITIVE_INFINITY;
    let xMax = Number.NEGATIVE_INFINITY;
    let yMin = Number.POSITIVE_INFINITY;
    let yMax = Number.NEGATIVE_INFINITY;
    const widenY = (values: readonly number[]): void => {
      for (const value of values) {
        if (!Number.isFinite(value)) continue;
        const y = tr(value);
        if (y < yMin) yMin = y;
        if (y > yMax) yMax = y;
      }
    };
    for (const s of series) {
      for (const x of s.x) {
        if (x < xMin) xMin = x;
        if (x > xMax) xMax = x;
      }
      widenY(s.y);
      if (s.base !== undefined) widenY(s.base);
    }
    if (xMin > xMax || yMin > yMax) continue;
    if (xMax === xMin) xMax = xMin + 1;
    if (yAxis.rangemode === "tozero" && !log) yMin = Math.min(0, yMin);
    if (yMax === yMin) yMax = yMin + 1;
    const px = (x: number): number => margin.l + ((x - xMin) / (xMax - xMin)) * plotWidth;
    const py = (y: number): number => top + panelHeight - ((tr(y) - yMin) / (yMax - yMin)) * panelHeight;
    out.push(`<rect x="${margin.l}" y="${top}" width="${plotWidth}" height="${panelHeight}" fill="none" stroke="#ccc"/>`);
    for (const tick of niceTicks(yMin, yMax, 4)) {
      const y = top + panelHeight - ((tick - yMin) / (yMax - yMin)) * panelHeight;
      out.push(`<line x1="${margin.l}" x2="${margin.l + plotWidth}" y1="${y}" y2="${y}" stroke="#eee"/>`);
      out.push(`<text x="${margin.l - 4}" y="${y + 4}" text-anchor="end">${formatTick(log ? 10 ** tick : tick)}</text>`);
    }
    for (const tick of niceTicks(xMin, xMax, 6)) {
      out.push(`<text x="${px(tick)}" y="${top + panelHeight + 12}" text-anchor="middle">${formatTick(tick)}</text>`);
    }
    if (yAxis.title) {
      out.push(`<text transform="translate(14 ${top + panelHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(titleText(yAxis.title))}</text>`);
    }
    series.forEach((s, index) => {
      const color = s.trace.line?.color ?? colorAt(index);
      let path = "";
      for (let i = 0; i < s.x.length; i++) {
        const y = py(s.y[i]!);
        if (!Number.isFinite(y)) continue;
        path += `${path === "" ? "M" : "L"}${Math.round(px(s.x[i]!))},${Math.round(y)}`;
      }
      if (path === "") return;
      if (s.base !== undefined) {
        let back = "";
        for (let i = s.x.length - 1; i >= 0; i--) back += `L${Math.round(px(s.x[i]!))},${Math.round(py(s.base[i]!))}`;
        out.push(`<path d="${path}${back}Z" fill="${color}" fill-opacity="0.55" stroke="none"/>`);
      } else {
        const dash = s.trace.line?.dash === "dot" ? ` stroke-dasharray="2,3"` : s.trace.line?.dash === "dash" ? ` stroke-dasharray="6,4"` : "";
        out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="${s.trace.line?.width ?? 2}" stroke-opacity="${s.trace.opacity ?? 1}"${dash}/>`);
      }
    });
  }
  // Figures from cell code are plain Plotly JSON: a trace may have no name (Plotly then shows no
  // legend entry for a lone trace), and that must not cost the figure its static drawing.
  const legend = scatter.filter((t) => t.showlegend !== false && typeof t.name === "string" && t.name !== "");
  legend.forEach((trace, i) => {
    const y = margin.t + 8 + i * 15;
    out.push(`<rect x="${width - margin.r + 10}" y="${y - 8}" width="12" height="8" fill="${trace.line?.color ?? colorAt(i)}"/>`);
    out.push(`<text x="${width - margin.r + 26}" y="${y}">${escapeXml(trace.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("");
}

interface DrawnSeries {
  trace: ScatterTrace;
  x: number[];
  y: number[];
  base?: number[];
}

/** Turns stackgroup traces into cumulative bands (Plotly stacks them the same way). */
function stackSeries(traces: readonly ScatterTrace[]): DrawnSeries[] {
  const running = new Map<string, number[]>();
  return traces.map((trace) => {
    if (trace.stackgroup === undefined) return { trace, x: trace.x, y: trace.y };
    const base = running.get(trace.stackgroup) ?? trace.y.map(() => 0);
    const y = trace.y.map((v, i) => base[i]! + (Number.isFinite(v) ? v : 0));
    running.set(trace.stackgroup, y);
    return { trace, x: trace.x, y, base };
  });
}

function niceTicks(min: number, max: number, count: number): number[] {
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e5 || abs < 1e-3)) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

/** Plotly takes a title as `{ text }` or, in plain figures, as a bare string. */
function titleText(title: unknown): string {
  if (typeof title === "string") return title;
  if (typeof title === "object" && title !== null && "text" in title && typeof title.text === "string") return title.text;
  return "";
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}
