/**
 * One rank's part of `cluster.evaluate`: the model it trained last, evaluated on its shard of
 * every batch of the data, the sums all-reduced so that every rank returns the same
 * `{ loss, ...metrics }` (equal to evaluating the whole data in one process, up to rounding).
 */
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { buildTrainingData } from "./data-forms.js";
import { compileUserFunction, explainUserError, ringbookScope } from "./function-scope.js";
import type { AllReduceSum } from "./gradient-step.js";
import { outputLossMetrics, resolveMetrics, type MetricFunction } from "./metrics.js";
import type { WorkerEvaluateSpec } from "./train-spec.js";
import type { TrainingData } from "./training-data.js";
import { evaluateOnRanks } from "./validation.js";
import { lastTrainedModel } from "./worker-train.js";

/**
 * Evaluates on every rank; a rank that cannot build the data (or has no model) fails every rank
 * through one vote before any evaluation, so no rank waits for another in the all-reduce.
 */
export async function evaluateOnWorker(env: { rank: number; worldSize: number; allReduceSum: AllReduceSum }, spec: WorkerEvaluateSpec): Promise<Record<string, number>> {
  const { rank, worldSize } = env;
  let built: { data: TrainingData; trainable: NonNullable<ReturnType<typeof lastTrainedModel>>["trainable"] } | undefined;
  let failure: unknown;
  try {
    const state = lastTrainedModel(rank);
    if (state === undefined) throw new RingbookError("ERR_NO_MODEL", "no model has been trained on this cluster yet: train one before evaluate");
    const context = { tf, rank, worldSize, args: spec.args, ringbook: ringbookScope };
    const schedule = { batchSize: spec.batchSize, epochs: 1, seed: 0, shuffle: false, ...(spec.steps === undefined ? {} : { stepsPerEpoch: spec.steps }) };
    const placement = { rank, worldSize, schedule, purpose: "evaluation" as const };
    built = { data: await buildTrainingData(spec.data, { context, trainable: state.trainable, placement }), trainable: state.trainable };
  } catch (error) {
    failure = error;
  }
  const votes = new Float32Array(worldSize);
  votes[rank] = built === undefined ? 1 : 0;
  const agreed = await env.allReduceSum(votes);
  if (built === undefined) throw failure;
  const failed = [...agreed].flatMap((flag, r) => (flag > 0 ? [r] : []));
  if (failed.length > 0) throw new RingbookError("ERR_EVALUATE_SETUP", `rank ${rank}: evaluate did not start because rank(s) ${failed.join(", ")} could not build the data or had no model`);
  const outputNames = built.trainable.layers?.ports.outputs.map((output) => output.name) ?? ["output"];
  const metrics = [...outputLossMetrics(built.trainable.layers?.losses ?? []), ...resolveMetrics(spec.metrics, outputNames, (source) => {
    const fn = compileUserFunction(source, "metric") as MetricFunction;
    return (yTrue, yPred) => {
      try {
        return fn(yTrue, yPred);
      } catch (error) {
        throw explainUserError(error, "metric");
      }
    };
  })];
  const { logs } = await evaluateOnRanks({ trainable: built.trainable, data: built.data, metrics, allReduceSum: env.allReduceSum, prefix: "" });
  return logs;
}
