import type { KernelMeasurement } from "./kernel-bench-results.js";
import type { BenchKernel } from "./kernel-specs.js";

/** One column of the table: a measured kernel, or one that was skipped and why. */
export type KernelColumn =
  | { readonly state: "measured"; readonly kernel: BenchKernel; readonly result: KernelMeasurement }
  | { readonly state: "skipped"; readonly kernel: BenchKernel; readonly reason: string }
  | { readonly state: "failed"; readonly kernel: BenchKernel; readonly reason: string };

interface MetricRow {
  readonly label: string;
  readonly value: (result: KernelMeasurement) => number | null;
  /** Whether a ratio against the reference kernel means anything for this row. */
  readonly ratio: boolean;
}

function metricRows(cells: number, starts: number): MetricRow[] {
  return [
    { label: `start → kernel_info_reply, median of ${starts} (ms)`, value: (r) => r.start.p50Ms, ratio: true },
    { label: `start, worst of ${starts} (ms)`, value: (r) => r.start.maxMs, ratio: true },
    { label: "`1+1` round trip p50 (ms)", value: (r) => r.trivialCell.p50Ms, ratio: true },
    { label: "`1+1` round trip p99 (ms)", value: (r) => r.trivialCell.p99Ms, ratio: true },
    { label: "new typed function p50 (ms)", value: (r) => r.functionCell.p50Ms, ratio: true },
    { label: "new typed function p99 (ms)", value: (r) => r.functionCell.p99Ms, ratio: true },
    // ringbook's were checked through the extension's comm first; other kernels' just ran.
    { label: "typed function, checked while edited p50", value: (r) => r.checkedFunctionCell?.p50Ms ?? null, ratio: true },
    { label: "first `1+1` of a session (ms)", value: (r) => r.firstTrivialMs, ratio: true },
    { label: "RSS after start (MiB)", value: (r) => r.memoryAfterStart.rssMiB, ratio: true },
    { label: `RSS after ${2 * Math.floor((cells - 1) / 2) + 2} cells (MiB)`, value: (r) => r.memoryAtHalf.rssMiB, ratio: true },
    { label: `RSS after ${2 * cells} cells (MiB)`, value: (r) => r.memoryAfterCells.rssMiB, ratio: true },
    { label: "peak RSS, sum over tree (MiB)", value: (r) => r.memoryAfterCells.peakRssMiB, ratio: true },
    { label: "processes in kernel tree", value: (r) => r.memoryAfterCells.pids.length, ratio: false },
    { label: "lost execute_replies", value: (r) => r.lostReplies, ratio: false },
    { label: "lost idle statuses", value: (r) => r.lostIdle, ratio: false },
    { label: "late messages (after giving up)", value: (r) => r.lateMessages, ratio: false },
    { label: "error replies", value: (r) => r.errorReplies, ratio: false },
  ];
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function formatCell(value: number | null, reference: number | null, withRatio: boolean): string {
  if (value === null) return "—";
  if (!withRatio || reference === null || reference === 0) return formatNumber(value);
  return `${formatNumber(value)} (${(value / reference).toFixed(2)}x)`;
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((cell, index) => (index === 0 ? cell.padEnd(widths[index] ?? 0) : cell.padStart(widths[index] ?? 0))).join("  ");
}

/**
 * Renders the side-by-side table: each metric per kernel, with its ratio to the reference kernel
 * (ringbook when measured, else deno). Skipped kernels are listed under the table with the reason.
 */
export function renderTable(columns: readonly KernelColumn[], reference: BenchKernel | undefined, cells: number, starts: number): string {
  const measured = columns.filter((c): c is Extract<KernelColumn, { state: "measured" }> => c.state === "measured");
  const referenceResult = measured.find((c) => c.kernel === reference)?.result;
  const header = ["metric", ...measured.map((c) => c.kernel)];
  const rows = metricRows(cells, starts).map((row) => [
    row.label,
    ...measured.map((c) =>
      formatCell(row.value(c.result), referenceResult ? row.value(referenceResult) : null, row.ratio),
    ),
  ]);
  const widths = header.map((_, index) => Math.max(...[header, ...rows].map((r) => (r[index] ?? "").length)));
  const lines = [pad(header, widths), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map((r) => pad(r, widths))];
  lines.push("", reference ? `ratios: value / ${reference}'s value (lower is better for ringbook's goals)` : "ratios: none (no reference kernel measured)");
  for (const column of columns) {
    if (column.state !== "measured") lines.push(`${column.state} ${column.kernel}: ${column.reason}`);
  }
  for (const column of measured) {
    const r = column.result;
    lines.push(
      `${column.kernel}: ${r.implementation} ${r.implementationVersion}; IOPub confirmed by ${r.iopubConfirmedBy}; argv ${JSON.stringify(r.argv)}`,
    );
    if (r.startFailures.length > 0) lines.push(`  ${column.kernel} failed starts: ${r.startFailures.join("; ")}`);
    if (r.lostCells.length > 0) lines.push(`  ${column.kernel} lost messages in: ${r.lostCells.join("; ")}`);
    if (r.errors.length > 0) lines.push(`  ${column.kernel} error replies, first ones: ${r.errors.map((e) => JSON.stringify(e)).join("; ")}`);
  }
  return lines.join("\n");
}

/** A goal ringbook must meet, evaluated on one run. */
export interface GoalVerdict {
  readonly goal: string;
  readonly verdict: "pass" | "FAIL" | "n/a";
  readonly detail: string;
}

/** Evaluates ringbook's goals: startup and both cell latencies no worse than Deno's; RSS ≤ half of tslab's; nothing lost. */
export function evaluateGoals(columns: readonly KernelColumn[]): GoalVerdict[] {
  const find = (kernel: BenchKernel): KernelMeasurement | undefined => {
    const column = columns.find((c) => c.kernel === kernel);
    return column?.state === "measured" ? column.result : undefined;
  };
  const ringbook = find("ringbook");
  const compare = (
    goal: string,
    baselineKernel: BenchKernel,
    value: (r: KernelMeasurement) => number | null,
    factor: number,
  ): GoalVerdict => {
    const baseline = find(baselineKernel);
    const mine = ringbook ? value(ringbook) : null;
    const theirs = baseline ? value(baseline) : null;
    if (mine === null || theirs === null) {
      return { goal, verdict: "n/a", detail: `needs ringbook and ${baselineKernel} measured in this run` };
    }
    const limit = theirs * factor;
    return {
      goal,
      verdict: mine <= limit ? "pass" : "FAIL",
      detail: `ringbook ${formatNumber(mine)} vs limit ${formatNumber(limit)} (${baselineKernel} ${formatNumber(theirs)}${factor === 1 ? "" : ` x ${factor}`})`,
    };
  };
  const lost: GoalVerdict = ringbook
    ? {
        goal: "no lost replies or idle statuses",
        verdict: ringbook.lostReplies + ringbook.lostIdle === 0 ? "pass" : "FAIL",
        detail: `ringbook lost ${ringbook.lostReplies} replies, ${ringbook.lostIdle} idle statuses`,
      }
    : { goal: "no lost replies or idle statuses", verdict: "n/a", detail: "ringbook not measured" };
  return [
    compare("start p50 ≤ deno's", "deno", (r) => r.start.p50Ms, 1),
    compare("`1+1` p50 ≤ deno's", "deno", (r) => r.trivialCell.p50Ms, 1),
    compare("new typed function p50 ≤ deno's", "deno", (r) => r.functionCell.p50Ms, 1),
    // A JupyterLab user with ringbook's extension: the cell was checked while edited (deno's
    // cells of the same phase run unchecked, as all its cells do).
    compare("typed function checked while edited p50 ≤ deno's", "deno", (r) => r.checkedFunctionCell?.p50Ms ?? null, 1),
    compare("RSS after `--cells` cells ≤ half of tslab's", "tslab", (r) => r.memoryAtHalf.rssMiB, 0.5),
    lost,
  ];
}

/** Renders goal verdicts as aligned lines. */
export function renderGoals(verdicts: readonly GoalVerdict[]): string {
  const width = Math.max(...verdicts.map((v) => v.goal.length));
  return verdicts.map((v) => `${v.verdict.padEnd(4)}  ${v.goal.padEnd(width)}  ${v.detail}`).join("\n");
}
