/**
 * `cluster.describe()`: one row per worker. A plain array (so code can filter it), which also
 * renders as a table in notebooks through the `ringbook.mimeBundle` symbol any display host may
 * honour.
 */
import type { LinkKind } from "./link-encryption.js";

import type { NetworkChoice } from "./network-interface.js";

/** A worker's state as reported. */
export type DescribedState = "starting" | "ready" | "busy" | "dead" | "closed";

export interface WorkerDescription {
  rank: number;
  pid: number | null;
  host: string;
  /** ringbook's backend name: tensorflow, wasm-blas, wasm or cpu. */
  backend: string;
  /** What that backend is, e.g. "OpenBLAS 0.3.21 (Haswell kernels, 1 thread) zero-copy in the wasm heap". */
  backendSummary: string;
  /** Why each faster backend was not taken, one line each (e.g. "tensorflow: Cannot find module ..."). */
  backendNotes: string[];
  device: string;
  /** How it talks to the owner and its peers: "ipc", "ipc+curve", "tcp+curve" or "tcp (unencrypted)". */
  link: LinkKind;
  state: DescribedState;
  /** Counts restarts: a restarted rank gets a new incarnation. */
  incarnation: number;
  /** The Slurm job and step the worker runs in ("12.3"), from its own SLURM_* variables; null elsewhere. */
  slurmStep: string | null;
}

/** Where the workers run and how they reach the owner: said once, below the rows. */
export interface ClusterPlacement {
  /** The launcher's own words ("local processes", "Slurm job 12 on host1, host2"). */
  launcher: string;
  /** The owner's interface the workers connect to, and why it was chosen. */
  network: NetworkChoice;
}

/** The rows, with a table rendering, and where they run (not a row: one per cluster). */
export type ClusterDescription = WorkerDescription[] & { readonly placement?: ClusterPlacement };

const columns: ReadonlyArray<keyof WorkerDescription> = ["rank", "pid", "host", "backend", "device", "link", "state"];

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** The columns shown: the Slurm step only where some worker runs in one. */
function columnsOf(rows: readonly WorkerDescription[]): ReadonlyArray<keyof WorkerDescription> {
  return rows.some((row) => row.slurmStep !== null) ? [...columns, "slurmStep"] : columns;
}

function placementLines(placement: ClusterPlacement | undefined): string[] {
  if (placement === undefined) return [];
  const { address, interfaceName, reason } = placement.network;
  const link = interfaceName === undefined ? reason : `owner's interface ${interfaceName} ${address} (${reason})`;
  return [`workers: ${placement.launcher}; ${link}`];
}

function textTable(rows: readonly WorkerDescription[], placement: ClusterPlacement | undefined): string {
  const columns = columnsOf(rows);
  const cells = [columns.map(String), ...rows.map((row) => columns.map((column) => String(row[column] ?? "")))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  const table = cells.map((line) => line.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
  const notes = [...placementLines(placement), ...backendLines(rows)];
  return notes.length === 0 ? table : `${table}\n\n${notes.join("\n")}`;
}

/**
 * Below the table, once per distinct backend: what it is and why faster ones were not taken
 * (every rank usually says the same; ranks that differ are named).
 */
function backendLines(rows: readonly WorkerDescription[]): string[] {
  const groups = new Map<string, { row: WorkerDescription; ranks: number[] }>();
  for (const row of rows) {
    if (row.backend === "") continue;
    const key = [row.backend, row.backendSummary, ...row.backendNotes].join("\n");
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { row, ranks: [row.rank] });
    else group.ranks.push(row.rank);
  }
  return [...groups.values()].flatMap(({ row, ranks }) => {
    const who = groups.size === 1 ? "" : ` (rank${ranks.length === 1 ? "" : "s"} ${ranks.join(", ")})`;
    return [`backend ${row.backend}${who}: ${row.backendSummary || "-"}`, ...row.backendNotes.map((note) => `  not ${note}`)];
  });
}

/** Wraps rows so that notebooks show them as a table. */
export function describeCluster(rows: WorkerDescription[], placement?: ClusterPlacement): ClusterDescription {
  const columns = columnsOf(rows);
  // Not enumerable: the rows compare and print as the plain array they are.
  Object.defineProperty(rows, "placement", { enumerable: false, value: placement });
  Object.defineProperty(rows, Symbol.for("ringbook.mimeBundle"), {
    enumerable: false,
    value: () => ({
      "text/plain": textTable(rows, placement),
      "text/html": `<table><thead><tr>${columns.map((column) => `<th>${column}</th>`).join("")}</tr></thead><tbody>${rows
        .map((row) => `<tr>${columns.map((column) => `<td>${escapeHtml(String(row[column] ?? ""))}</td>`).join("")}</tr>`)
        .join("")}</tbody></table>${[...placementLines(placement), ...backendLines(rows)].map((line) => `<div>${escapeHtml(line)}</div>`).join("")}`,
    }),
  });
  return rows;
}
