/**
 * `cluster.describe()`: one row per worker. A plain array (so code can filter it), which also
 * renders as a table in notebooks through the `ringbook.mimeBundle` symbol any display host may
 * honour.
 */

/** A worker's state as reported. */
export type DescribedState = "starting" | "ready" | "busy" | "dead" | "closed";

export interface WorkerDescription {
  rank: number;
  pid: number | null;
  host: string;
  backend: string;
  device: string;
  state: DescribedState;
  /** Counts restarts: a restarted rank gets a new incarnation. */
  incarnation: number;
}

/** The rows, with a table rendering. */
export type ClusterDescription = WorkerDescription[];

const columns: ReadonlyArray<keyof WorkerDescription> = ["rank", "pid", "host", "backend", "device", "state"];

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (char) => `&#${char.charCodeAt(0)};`);
}

function textTable(rows: readonly WorkerDescription[]): string {
  const cells = [columns.map(String), ...rows.map((row) => columns.map((column) => String(row[column] ?? "")))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) => line.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

/** Wraps rows so that notebooks show them as a table. */
export function describeCluster(rows: WorkerDescription[]): ClusterDescription {
  Object.defineProperty(rows, Symbol.for("ringbook.mimeBundle"), {
    enumerable: false,
    value: () => ({
      "text/plain": textTable(rows),
      "text/html": `<table><thead><tr>${columns.map((column) => `<th>${column}</th>`).join("")}</tr></thead><tbody>${rows
        .map((row) => `<tr>${columns.map((column) => `<td>${escapeHtml(String(row[column] ?? ""))}</td>`).join("")}</tr>`)
        .join("")}</tbody></table>`,
    }),
  });
  return rows;
}
