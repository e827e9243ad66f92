/**
 * The model, data and loss functions of `cluster.train` travel to the workers as source text and
 * are compiled there. This module compiles them with what they may use besides their argument:
 * `tf` and ringbook's data helpers, by name (`new TensorDataset(...)`, as a notebook cell that
 * imported them writes it) and as `ringbook.*`. Anything else the source names from the notebook
 * does not exist on the worker: that error says to pass the value in `args`.
 */
import tf from "../tfjs.cjs";
import { RingbookError } from "../errors.js";
import { ArrayDataset } from "../data/dataset.js";
import { mnistDigits } from "../data/mnist-digits.js";
import { syntheticClassification } from "../data/synthetic.js";
import { TensorDataset } from "../data/tensor-dataset.js";

/**
 * ringbook's exports that model, data and loss functions find in scope on the workers, by name
 * and as `ringbook` (also in their context: `({ ringbook }) => new ringbook.TensorDataset(...)`).
 */
export const ringbookScope = Object.freeze({ ArrayDataset, TensorDataset, mnistDigits, syntheticClassification });

/** The type of {@link ringbookScope}. */
export type RingbookScope = typeof ringbookScope;

/** Which user function, for messages. */
export type UserFunctionRole = "model" | "data" | "loss" | "metric";

/**
 * Compiles a function's source text in a scope with `tf`, `ringbook` and ringbook's data helpers.
 */
export function compileUserFunction(source: string, role: UserFunctionRole): (...args: unknown[]) => unknown {
  const names = Object.keys(ringbookScope);
  let compiled: unknown;
  try {
    compiled = new Function("tf", "ringbook", ...names, `"use strict"; return (${source}\n);`)(tf, ringbookScope, ...Object.values(ringbookScope));
  } catch (error) {
    throw new RingbookError("ERR_BAD_FUNCTION", `the ${role} function could not be compiled on the worker: ${describeError(error)}`, { cause: error });
  }
  if (typeof compiled !== "function") throw new RingbookError("ERR_BAD_FUNCTION", `the ${role} source is not a function`);
  return compiled as (...args: unknown[]) => unknown;
}

/**
 * `error` as the user should read it: a ReferenceError from a user function (a name that exists
 * in the notebook, not on the worker) becomes an error that says to pass the value in `args`;
 * anything else passes unchanged.
 */
export function explainUserError(error: unknown, role: UserFunctionRole): unknown {
  if (!(error instanceof ReferenceError)) return error;
  const name = /^(\S+) is not defined/.exec(error.message)?.[1];
  if (name === undefined) return error;
  return new RingbookError(
    "ERR_FUNCTION_CLOSURE",
    `the ${role} function uses \`${name}\`, which does not exist on the workers: functions travel to them as source text, without the notebook's variables. ` +
      `Pass the value in args (train({ ..., args: { ${name} } })) and read it from the context (({ tf, args }) => ... args.${name} ...); ` +
      `tf and ringbook's ${Object.keys(ringbookScope).join(", ")} are in scope there`,
    { cause: error },
  );
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
