import type { TrainingHistory } from "../metrics/training-history.js";

/** Made once: `Number.prototype.toLocaleString` builds a formatter on every call (~10 µs). */
const thousands = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** Longest `detail` shown (a failure's first line): the line stays one line. */
const maxDetailChars = 200;

/**
 * The one-line progress of a run: step, epoch, loss, throughput and ETA, e.g.
 * `training: step 120/600 · epoch 1/3 · loss 0.4213 · 12,400 samples/s · ETA 0:42`. `detail`
 * (why a run failed) comes right after the state: `failed: rank 1 died · step 12/600 · ...`.
 */
export function progressText(history: TrainingHistory, plan: { totalSteps?: number; epochs?: number }, state = "training", detail?: string): string {
  const c = history.columns;
  const n = history.length;
  const shown = detail === undefined ? undefined : oneLine(detail);
  if (n === 0) {
    const when = state === "starting" || state === "training" ? "waiting for the first step" : "before the first step";
    return `${state}: ${shown === undefined ? when : `${shown} · ${when}`}`;
  }
  const step = c.step[n - 1]!;
  const parts = [`step ${step}${plan.totalSteps === undefined ? "" : `/${plan.totalSteps}`}`];
  if (plan.epochs !== undefined) parts.push(`epoch ${c.epoch[n - 1]! + 1}/${plan.epochs}`);
  parts.push(`loss ${formatLoss(c.loss[n - 1]!)}`);
  parts.push(`${thousands.format(Math.round(history.wallSamplesPerSecond))} samples/s`);
  if (plan.totalSteps !== undefined && state === "training") {
    parts.push(`ETA ${formatDuration(Math.max(plan.totalSteps - step, 0) * history.wallMsPerStep)}`);
  }
  if (shown !== undefined) parts.unshift(shown);
  return `${state}: ${parts.join(" · ")}`;
}

function oneLine(text: string): string {
  const line = (text.split("\n").find((part) => part.trim() !== "") ?? "").trim();
  return line.length > maxDetailChars ? `${line.slice(0, maxDetailChars - 1)}…` : line;
}

function formatLoss(loss: number): string {
  return Math.abs(loss) >= 1000 || (Math.abs(loss) < 1e-3 && loss !== 0) ? loss.toExponential(3) : loss.toFixed(4);
}

/** `m:ss` or `h:mm:ss`. */
export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}
