/**
 * A trained model as the notebook (or a Node script) gets it back from training: a copy of one
 * rank's weights in this process, compiled with the run's loss and optimizer so that `predict`
 * and `evaluate` work at once, whatever kind of model was trained.
 */
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { acceptIntegerTargets } from "../data/integer-targets.js";
import type { TensorTree } from "../data/tensor-tree.js";
import { ringbookScope } from "./function-scope.js";
import { resolveLoss, resolveLossWeights, type LossFunction, type LossWeights } from "./losses.js";
import { createTfjsOptimizer, type OptimizerSpec } from "./optimizers.js";
import { trainableFromVariables, type VariablesModel } from "./trainable.js";
import type { TrainContext, TrainOptions } from "./train-spec.js";
import type { ExportedModel } from "./worker-train.js";

/**
 * What a run was trained with, kept by whoever started it (the cluster, `trainSingleProcess`) to
 * rebuild and compile its model: the user's own functions, which work in this process as they are.
 */
export interface TrainingRecipe {
  model: TrainOptions["model"];
  /** As given to `train` (a name or a function); undefined: the default. */
  loss: TrainOptions["loss"];
  /** As given to `train`; undefined: every output weighs 1. */
  lossWeights?: LossWeights;
  optimizer: OptimizerSpec;
  args: unknown;
  worldSize: number;
  /** As given to `train`; a layers model is compiled with them (a custom model's `evaluate` gives the loss only). */
  metrics?: TrainOptions["metrics"];
}

/** The recipe of a run from its options, as `train` checked them. */
export function recipeOf(options: TrainOptions, optimizer: OptimizerSpec, worldSize: number): TrainingRecipe {
  return {
    model: options.model,
    loss: options.loss,
    ...(options.lossWeights === undefined ? {} : { lossWeights: options.lossWeights }),
    optimizer,
    args: options.args,
    worldSize,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  };
}

/**
 * A custom model (`{ variables, loss, predict }`) trained by ringbook, rebuilt in this process by
 * its own model function with the trained values. `predict`, `evaluate` (the mean of the model's
 * loss over the samples), `summary`, `getWeights`, `countParams` and `dispose` work as on a
 * `tf.LayersModel`.
 */
export class CustomModel {
  readonly variables: readonly tf.Variable[];
  readonly #model: VariablesModel;

  constructor(model: VariablesModel) {
    this.#model = model;
    this.variables = model.variables;
  }

  /** The model's own `predict` (one tensor, or one per output); its intermediate tensors are freed. */
  predict(xs: TensorTree): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => this.#model.predict(xs));
  }

  /** The model's own loss of one batch (a mean). */
  loss(xs: tf.Tensor, ys: tf.Tensor): tf.Scalar {
    return tf.tidy(() => this.#model.loss(xs, ys));
  }

  /**
   * Mean loss over all samples, computed in batches of `batchSize` (a sample-weighted mean of the
   * batches' mean losses, as `tf.LayersModel.evaluate` computes).
   * @param options.batchSize @default 32
   */
  evaluate(xs: tf.Tensor, ys: tf.Tensor, options: { batchSize?: number } = {}): tf.Scalar {
    const batchSize = options.batchSize ?? 32;
    if (!Number.isSafeInteger(batchSize) || batchSize <= 0) throw new RingbookError("ERR_BAD_OPTION", `evaluate: batchSize must be a positive integer, got ${JSON.stringify(options.batchSize)}`);
    const samples = xs.shape[0] ?? 0;
    if (samples === 0 || ys.shape[0] !== samples) {
      throw new RingbookError("ERR_BAD_DATA", `evaluate needs as many targets as inputs (at least one): xs has shape [${xs.shape.join(", ")}], ys [${ys.shape.join(", ")}]`);
    }
    return tf.tidy(() => {
      let total: tf.Tensor = tf.scalar(0);
      for (let start = 0; start < samples; start += batchSize) {
        const size = Math.min(batchSize, samples - start);
        const batchLoss = this.#model.loss(xs.slice(start, size), ys.slice(start, size));
        total = total.add(batchLoss.mul(size));
      }
      return total.div(samples) as tf.Scalar;
    });
  }

  /**
   * Prints one line per variable (name, shape, values) and the totals, as
   * `tf.LayersModel.summary` prints layers, with the same parameters: so `model.summary()` works
   * on whatever `cluster.model()` gave without narrowing.
   * @param lineLength characters per line @default 65
   * @param positions where each of the three columns ends: fractions of `lineLength` or characters @default [0.45, 0.85, 1]
   * @param printFn receives each line @default console.log
   */
  summary(lineLength = 65, positions: number[] = [0.45, 0.85, 1], printFn: (message?: unknown, ...optionalParams: unknown[]) => void = console.log): void {
    const ends = positions.map((position) => (position <= 1 ? Math.floor(position * lineLength) : Math.floor(position)));
    if (!Number.isSafeInteger(lineLength) || lineLength <= 0 || ends.length !== 3 || !ends.every((end, i) => end > (ends[i - 1] ?? 0))) {
      throw new RingbookError("ERR_BAD_OPTION", `summary: lineLength must be a positive integer and positions three increasing column ends (fractions of lineLength or characters), got ${JSON.stringify(lineLength)} and ${JSON.stringify(positions)}`);
    }
    // As tfjs prints a row: each cell cut at its column's end, a space before the next.
    const row = (cells: string[]): string => {
      let line = "";
      cells.forEach((cell, i) => {
        if (i > 0) line = `${line.slice(0, -1)} `;
        line = `${line}${cell}`.slice(0, ends[i]).padEnd(ends[i]!);
      });
      return line.trimEnd();
    };
    const total = this.countParams();
    const trainable = this.variables.reduce((sum, variable) => sum + (variable.trainable ? variable.size : 0), 0);
    printFn("_".repeat(lineLength));
    printFn(row(["Variable", "Shape", "Param #"]));
    printFn("=".repeat(lineLength));
    this.variables.forEach((variable, i) => {
      printFn(row([variable.name, `[${variable.shape.join(",")}]`, String(variable.size)]));
      printFn((i === this.variables.length - 1 ? "=" : "_").repeat(lineLength));
    });
    printFn(`Total params: ${total}`);
    printFn(`Trainable params: ${trainable}`);
    printFn(`Non-trainable params: ${total - trainable}`);
    printFn("_".repeat(lineLength));
  }

  /** The variables themselves, in order (as `tf.LayersModel.getWeights` gives its weights). */
  getWeights(): tf.Tensor[] {
    return [...this.variables];
  }

  /** Number of values in the variables. */
  countParams(): number {
    return this.variables.reduce((sum, variable) => sum + variable.size, 0);
  }

  /** Frees the variables. */
  dispose(): void {
    for (const variable of this.variables) if (!variable.isDisposed) variable.dispose();
  }
}

/**
 * What `cluster.model()` gives: a `tf.LayersModel` compiled with the run's loss and optimizer, or
 * a {@link CustomModel}; `predict`, `evaluate`, `summary`, `getWeights`, `countParams` and
 * `dispose` work on both without narrowing, and `saveModel` takes both.
 */
export type TrainedModel = tf.LayersModel | CustomModel;

/**
 * Builds the model a worker exported in this process: a layers model from its topology and
 * weights, compiled with the recipe's loss and optimizer; a custom model by running its function
 * here and assigning the trained values to its variables (in order; shapes checked).
 */
export async function rebuildTrainedModel(exported: ExportedModel, recipe: TrainingRecipe | undefined): Promise<TrainedModel> {
  // Whatever backend this process uses must be initialised before weights become tensors.
  await tf.ready();
  switch (exported.kind) {
    case "layers": {
      const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: exported.modelTopology, weightSpecs: exported.weightSpecs, weightData: exported.weightData }));
      if (recipe !== undefined) compileLayersModel(model, recipe);
      // Targets as training took them (int32 class indices) work in evaluate and fit too.
      acceptIntegerTargets(model);
      return model;
    }
    case "variables":
      return await rebuildCustomModel(exported.variables, recipe);
    default: {
      const impossible: never = exported;
      throw new RingbookError("ERR_BAD_RESULT", `unknown exported model ${JSON.stringify(impossible)}`);
    }
  }
}

/**
 * Compiles with the run's loss (by name when it was named, so that `saveModel` keeps it) and a
 * tfjs optimizer of the run's spec (ringbook's fused optimizers train on workers; `fit` here
 * needs tfjs's). The model owns that optimizer: its `dispose()` frees it too.
 */
function compileLayersModel(model: tf.LayersModel, recipe: TrainingRecipe): void {
  const optimizer = createTfjsOptimizer(recipe.optimizer);
  const loss = recipe.loss ?? "categoricalCrossentropy";
  model.compile({ loss: recipe.lossWeights === undefined ? compileLoss(loss) : compileWeightedLoss(loss, recipe.lossWeights, model.outputNames), optimizer, ...(recipe.metrics === undefined ? {} : { metrics: compileMetrics(recipe.metrics) }) });
  // tfjs frees an optimizer at dispose() only when compile built it from a name; this one is
  // made for this model alone.
  const dispose = model.dispose.bind(model);
  model.dispose = () => {
    const result = dispose();
    optimizer.dispose();
    return result;
  };
}

/**
 * The run's loss as `compile` takes it: names stay names (tfjs knows every loss ringbook names, and
 * `saveModel` keeps a named one), functions pass through; one per output as an array in output
 * order or a map by output name, as `train` took it (tfjs sums the outputs' losses, as training did).
 */
function compileLoss(loss: NonNullable<TrainOptions["loss"]>): CompileLoss {
  const one = (entry: unknown): string | LossFunction => (typeof entry === "string" ? entry : resolveLoss(entry));
  // tfjs looks each entry up by name or takes the function, whatever the mix in an array or map;
  // its type lists arrays and maps of one kind only.
  if (Array.isArray(loss)) return loss.map(one) as CompileLoss;
  if (typeof loss === "object" && loss !== null) return Object.fromEntries(Object.entries(loss).map(([output, entry]) => [output, one(entry)])) as CompileLoss;
  return one(loss) as CompileLoss;
}

/**
 * tfjs's `compile` has no loss weights (its `lossWeights` is a TODO): each weighted output's loss
 * becomes a function that scales it, so `evaluate` and `fit` compute what training did. Such a
 * loss is a function, so `saveModel` writes no training configuration.
 */
function compileWeightedLoss(loss: NonNullable<TrainOptions["loss"]>, lossWeights: LossWeights, outputNames: readonly string[]): CompileLoss {
  const weights = resolveLossWeights(lossWeights, outputNames);
  return outputNames.map((output, i) => {
    const entry: unknown = Array.isArray(loss) ? loss[i] : typeof loss === "object" && loss !== null ? (loss as Record<string, unknown>)[output] : loss;
    const weight = weights[i]!;
    if (weight === 1) return typeof entry === "string" ? entry : resolveLoss(entry);
    const fn = resolveLoss(entry);
    return ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.tidy(() => tf.mul(fn(yTrue, yPred), weight))) as LossFunction;
  }) as CompileLoss;
}

type CompileLoss = Parameters<tf.LayersModel["compile"]>[0]["loss"];

/**
 * The run's metrics as `compile` takes them: tfjs's own names where tfjs knows them (it resolves
 * `accuracy` from the output and loss, as training does), functions for the rest. Precision and
 * recall threshold predictions at 0.5 as in training; tfjs averages them over batches.
 */
function compileMetrics(metrics: NonNullable<TrainOptions["metrics"]>): Array<string | LossFunction> {
  const thresholded = (fn: LossFunction): LossFunction => (yTrue, yPred) => tf.tidy(() => fn(yTrue, tf.cast(tf.greater(yPred, 0.5), "float32")));
  const byName: Record<string, string | LossFunction> = {
    sparseCategoricalAccuracy: (yTrue, yPred) => tf.tidy(() => tf.metrics.sparseCategoricalAccuracy(tf.reshape(yTrue, [-1, 1]), yPred)),
    precision: thresholded(tf.metrics.precision),
    recall: thresholded(tf.metrics.recall),
  };
  return metrics.map((metric) => (typeof metric === "function" ? (metric as LossFunction) : (byName[metric] ?? metric)));
}

async function rebuildCustomModel(values: ReadonlyArray<{ name: string; shape: number[]; values: Float32Array }>, recipe: TrainingRecipe | undefined): Promise<CustomModel> {
  if (recipe === undefined) {
    throw new RingbookError("ERR_NO_MODEL", "the workers hold a custom model, but this process does not know the function that built it; train it from here first");
  }
  // The same module object; its ESM type only adds the synthetic `default` that require's lacks.
  const context: TrainContext = { tf: tf as unknown as TrainContext["tf"], rank: 0, worldSize: recipe.worldSize, args: recipe.args, ringbook: ringbookScope };
  let built: unknown;
  try {
    built = await recipe.model(context);
  } catch (error) {
    // A function that names its variables fails here while an earlier copy of the model lives.
    throw new RingbookError(
      "ERR_BAD_MODEL",
      `the model function failed when rebuilding the custom model in this process (dispose() an earlier copy first if it names its variables): ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (typeof built !== "object" || built === null || !("variables" in built)) {
    throw new RingbookError("ERR_BAD_MODEL", `the workers trained a custom model, but its function built ${built === null ? "null" : typeof built} in this process`);
  }
  const trainable = trainableFromVariables(built as VariablesModel);
  const variables = trainable.variables;
  const shapes = (list: ReadonlyArray<{ shape: readonly number[] }>): string => list.map((v) => `[${v.shape.join(", ")}]`).join(", ");
  if (variables.length !== values.length || variables.some((v, i) => v.shape.join("x") !== values[i]!.shape.join("x"))) {
    for (const variable of variables) variable.dispose();
    throw new RingbookError("ERR_MODEL_MISMATCH", `the model function built variables ${shapes(variables)} in this process, the workers trained ${shapes(values)}`);
  }
  tf.tidy(() => variables.forEach((variable, i) => variable.assign(tf.tensor(values[i]!.values, values[i]!.shape, variable.dtype))));
  return new CustomModel({ variables, loss: trainable.loss, predict: trainable.predict });
}
