/**
 * The `loss` and `lossWeights` options of `cluster.train`, checked on the owner and turned into
 * plain data that travels to the workers (which check them against the model's outputs: see
 * `resolveLosses` and `resolveLossWeights`).
 */
import type * as tf from "@tensorflow/tfjs";
import { RingbookError } from "../errors.js";
import { describeValue } from "../data/sample-arrays.js";
import { isLossName, lossNames, type LossName, type LossWeights } from "./losses.js";
import { suggestName } from "./option-names.js";

/** One output's loss as it travels: a name, or a function's source text. */
export type LossEntrySpec = { name: LossName } | { source: string };

/** The loss of a run as it travels: one for every output, or one per output by position or by name. */
export type WorkerLossSpec =
  | { kind: "all"; loss: LossEntrySpec }
  | { kind: "byPosition"; losses: LossEntrySpec[] }
  | { kind: "byName"; losses: Record<string, LossEntrySpec> };

/**
 * A per-output loss as users give it: a name (as in `model.compile`; any string type-checks, so
 * that a name held in a variable does, and an unknown one is refused with the closest name) or
 * `(yTrue, yPred) => tensor`.
 */
export type LossOption = LossName | (string & Record<never, never>) | ((yTrue: tf.Tensor, yPred: tf.Tensor) => unknown);

/**
 * Reads `loss` (default `"categoricalCrossentropy"`) and `lossWeights` from the train options;
 * lossWeights that contradict the outputs the loss names are refused here already.
 */
export function parseLossOptions(o: Record<string, unknown>): { loss: WorkerLossSpec; lossWeights?: LossWeights } {
  const loss = parseLoss(o.loss ?? "categoricalCrossentropy");
  if (o.lossWeights === undefined) return { loss };
  const lossWeights = parseLossWeights(o.lossWeights);
  checkLossWeightsAgainstLoss(lossWeights, loss);
  return { loss, lossWeights };
}

/** The `loss` option as it travels: names stay names, functions become their source text. */
function parseLoss(value: unknown): WorkerLossSpec {
  const entry = (loss: unknown, where: string): LossEntrySpec => {
    if (typeof loss === "function") return { source: loss.toString() };
    if (isLossName(loss)) return { name: loss };
    if (typeof loss === "string") throw bad(`unknown loss ${JSON.stringify(loss)}${where}${suggestName(loss, lossNames)}; use one of ${lossNames.join(", ")} or a function`);
    throw bad(`loss${where} must be a name or a function (yTrue, yPred) => tensor, got ${describeValue(loss)}`);
  };
  if (Array.isArray(value)) {
    if (value.length === 0) throw bad("loss is an empty array; give one loss per output, or one loss for all");
    return { kind: "byPosition", losses: value.map((loss, i) => entry(loss, ` (output ${i})`)) };
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) throw bad("loss is an empty object; give a loss per output name, or one loss for all");
    return { kind: "byName", losses: Object.fromEntries(entries.map(([name, loss]) => [name, entry(loss, ` (output "${name}")`)])) };
  }
  return { kind: "all", loss: entry(value, "") };
}

/**
 * What the loss already says about the outputs: an array of losses has one per output, a map of
 * losses one per output name. lossWeights that disagree are refused before any worker computes.
 */
function checkLossWeightsAgainstLoss(weights: LossWeights, loss: WorkerLossSpec): void {
  if (loss.kind === "byPosition" && Array.isArray(weights) && weights.length !== loss.losses.length) {
    throw bad(`lossWeights has ${weights.length} entries but loss has ${loss.losses.length} (one per output); give one weight per output, in the model's output order`);
  }
  if (loss.kind === "byName" && !Array.isArray(weights)) {
    const outputs = Object.keys(loss.losses);
    for (const name of Object.keys(weights)) {
      if (!outputs.includes(name)) throw bad(`lossWeights names output "${name}", which loss does not name${suggestName(name, outputs)}; loss names the outputs ${outputs.join(", ")}`);
    }
  }
}

/**
 * Checks the `lossWeights` option's form (before the model, and so its outputs, is known):
 * a non-empty array or map of finite numbers ≥ 0.
 */
function parseLossWeights(value: unknown): LossWeights {
  const form = "lossWeights must be an array of numbers (one per output, in the model's output order) or a map { outputName: number }";
  const check = (weight: unknown, where: string): number => {
    if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0) {
      throw bad(`lossWeights${where} must be a finite number ≥ 0, got ${JSON.stringify(weight) ?? String(weight)}`);
    }
    return weight;
  };
  if (Array.isArray(value)) {
    if (value.length === 0) throw bad(`${form}; got an empty array`);
    return value.map((weight: unknown, i) => check(weight, `[${i}]`));
  }
  if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.entries(value);
    if (entries.length === 0) throw bad(`${form}; got an empty object`);
    return Object.fromEntries(entries.map(([name, weight]) => [name, check(weight, `.${name}`)]));
  }
  throw bad(`${form}, got ${JSON.stringify(value) ?? String(value)}`);
}

function bad(message: string): RingbookError {
  return new RingbookError("ERR_BAD_TRAIN_OPTIONS", message);
}
