/**
 * The arithmetic of tfjs 4.22's optimizers as single loops, in float32 exactly as tfjs computes
 * them: the same operands in the same order, every intermediate rounded to float32 (`Math.fround`
 * after each operation; a float32 +, −, ×, ÷ or √ computed in float64 and rounded once equals the
 * float32 operation, since float64 carries more than 2·24 + 2 bits). The scalars are prepared as
 * tfjs prepares its scalar tensors (e.g. `1 - beta1` in float64, then rounded; `accBeta1` as a
 * float32 product updated every step). native/src/optimizers.c runs the same loops in C.
 */
import type { OptimizerName } from "./optimizers.js";
import type { ResolvedOptimizerSpec } from "./optimizers.js";

const f = Math.fround;

/** The codes of native/src/kernels.h's rb_optimizer. */
export const optimizerCodes: Readonly<Record<OptimizerName, number>> = { sgd: 0, momentum: 1, adam: 2, adamax: 3, rmsprop: 4, adagrad: 5, adadelta: 6 };

/** The suffixes of tfjs's slot names (`${variable.name}/${suffix}`), in tfjs's getWeights order. */
export function slotSuffixes(spec: ResolvedOptimizerSpec): string[] {
  switch (spec.name) {
    case "sgd":
      return [];
    case "momentum":
      return ["momentum"];
    case "adam":
    case "adamax":
      return ["m", "v"];
    case "rmsprop":
      return spec.centered ? ["rms", "momentum", "mg"] : ["rms", "momentum"];
    case "adagrad":
      return ["accumulator"];
    case "adadelta":
      return ["accum_grad", "accum_var"];
    default: {
      const impossible: never = spec.name;
      throw new Error(`unknown optimizer ${String(impossible)}`);
    }
  }
}

/** The value a slot starts at (Adagrad's accumulator starts at initialAccumulatorValue). */
export function slotInitialValue(spec: ResolvedOptimizerSpec): number {
  return spec.name === "adagrad" ? spec.initialAccumulatorValue : 0;
}

/** Per-step scalars and the state behind them (Adam's β powers, Adamax's iteration). */
export class OptimizerScalars {
  readonly #spec: ResolvedOptimizerSpec;
  #accBeta1: number;
  #accBeta2: number;
  #iteration = 0;
  /** The spec's, until a learning-rate schedule sets another ({@link setLearningRate}). */
  #learningRate: number;

  constructor(spec: ResolvedOptimizerSpec) {
    this.#spec = spec;
    this.#learningRate = spec.learningRate;
    this.#accBeta1 = f(spec.beta1);
    this.#accBeta2 = f(spec.beta2);
  }

  /** The scalars of the coming step, in native/src/optimizers.c's order for this optimizer. */
  current(): Float32Array {
    const s = this.#spec;
    const negLr = -this.#learningRate;
    switch (s.name) {
      case "sgd":
        return Float32Array.of(negLr);
      case "momentum":
        return Float32Array.of(negLr, s.momentum, s.useNesterov ? 1 : 0);
      case "adam":
        return Float32Array.of(s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2, f(1 - this.#accBeta1), f(1 - this.#accBeta2), s.epsilon, negLr);
      case "adamax": {
        // lr = div(-lr, add(mul(iteration, decay), 1)); step size = div(lr, 1 - accBeta1).
        const lr = f(f(negLr) / f(f(this.#iteration * f(s.decay)) + 1));
        return Float32Array.of(s.beta1, 1 - s.beta1, s.beta2, f(lr / f(1 - this.#accBeta1)), s.epsilon);
      }
      case "rmsprop":
        return Float32Array.of(s.decay, 1 - s.decay, s.momentum, this.#learningRate, s.epsilon, s.centered ? 1 : 0);
      case "adagrad":
        return Float32Array.of(s.epsilon, negLr);
      case "adadelta":
        return Float32Array.of(s.rho, 1 - s.rho, s.epsilon, negLr);
      default: {
        const impossible: never = s.name;
        throw new Error(`unknown optimizer ${String(impossible)}`);
      }
    }
  }

  /** The learning rate of the coming steps (tfjs's optimizers read theirs at every step too). */
  setLearningRate(learningRate: number): void {
    this.#learningRate = learningRate;
  }

  /** After a step: tfjs's `accBeta.assign(mul(accBeta, beta))` and `iteration + 1`. */
  advance(): void {
    this.#accBeta1 = f(this.#accBeta1 * f(this.#spec.beta1));
    this.#accBeta2 = f(this.#accBeta2 * f(this.#spec.beta2));
    this.#iteration += 1;
  }

  /** After restoring `iterations` steps from a checkpoint: tfjs's `pow(beta, iterations + 1)`. */
  restore(iterations: number): void {
    this.#accBeta1 = f(Math.pow(f(this.#spec.beta1), iterations + 1));
    this.#accBeta2 = f(Math.pow(f(this.#spec.beta2), iterations + 1));
    this.#iteration = iterations;
  }
}

/**
 * One step over one variable's `count` values in JavaScript: new values from `value` into `out`
 * (both the variable's own, from 0); `grad` and the slots are the flat arrays of all variables
 * (from `at`), the slots updated in place.
 */
export function stepInJavaScript(
  name: OptimizerName,
  value: Float32Array,
  out: Float32Array,
  grad: Float32Array,
  slots: readonly Float32Array[],
  at: number,
  count: number,
  s: Float32Array,
): void {
  switch (name) {
    case "sgd": {
      const negLr = s[0]!;
      for (let i = 0; i < count; i++) out[i] = f(f(negLr * grad[at + i]!) + value[i]!);
      return;
    }
    case "momentum": {
      const [negLr, m, nesterov] = [s[0]!, s[1]!, s[2]!];
      const acc = slots[0]!;
      for (let i = 0; i < count; i++) {
        const j = at + i;
        const g = grad[j]!;
        const next = f(f(m * acc[j]!) + g);
        acc[j] = next;
        out[i] = nesterov !== 0 ? f(f(negLr * f(g + f(next * m))) + value[i]!) : f(f(negLr * next) + value[i]!);
      }
      return;
    }
    case "adam": {
      const [b1, omb1, b2, omb2, omab1, omab2, eps, negLr] = [s[0]!, s[1]!, s[2]!, s[3]!, s[4]!, s[5]!, s[6]!, s[7]!];
      const [m, v] = [slots[0]!, slots[1]!];
      for (let i = 0; i < count; i++) {
        const j = at + i;
        const g = grad[j]!;
        const m1 = f(f(m[j]! * b1) + f(g * omb1));
        const v1 = f(f(v[j]! * b2) + f(f(g * g) * omb2));
        m[j] = m1;
        v[j] = v1;
        const correctedM = f(m1 / omab1);
        const correctedV = f(v1 / omab2);
        out[i] = f(f(f(correctedM / f(f(Math.sqrt(correctedV)) + eps)) * negLr) + value[i]!);
      }
      return;
    }
    case "adamax": {
      const [b1, omb1, b2, step, eps] = [s[0]!, s[1]!, s[2]!, s[3]!, s[4]!];
      const [m, u] = [slots[0]!, slots[1]!];
      for (let i = 0; i < count; i++) {
        const j = at + i;
        const g = grad[j]!;
        const m1 = f(f(m[j]! * b1) + f(g * omb1));
        const u1 = Math.max(f(u[j]! * b2), Math.abs(g));
        m[j] = m1;
        u[j] = u1;
        out[i] = f(f(step * f(m1 / f(u1 + eps))) + value[i]!);
      }
      return;
    }
    case "rmsprop": {
      const [decay, omd, momentum, lr, eps, centered] = [s[0]!, s[1]!, s[2]!, s[3]!, s[4]!, s[5]!];
      const [ms, mom, mg] = [slots[0]!, slots[1]!, slots[2]];
      for (let i = 0; i < count; i++) {
        const j = at + i;
        const g = grad[j]!;
        const ms1 = f(f(ms[j]! * decay) + f(f(g * g) * omd));
        let denominator: number;
        if (centered !== 0 && mg !== undefined) {
          const mg1 = f(f(mg[j]! * decay) + f(g * omd));
          mg[j] = mg1;
          denominator = f(Math.sqrt(f(ms1 - f(f(mg1 * mg1) + eps))));
        } else {
          denominator = f(Math.sqrt(f(ms1 + eps)));
        }
        const mom1 = f(f(mom[j]! * momentum) + f(f(g * lr) / denominator));
        ms[j] = ms1;
        mom[j] = mom1;
        out[i] = f(value[i]! - mom1);
      }
      return;
    }
    case "adagrad": {
      const [eps, negLr] = [s[0]!, s[1]!];
      const acc = slots[0]!;
      for (let i = 0; i < count; i++) {
        const j = at + i;
        const g = grad[j]!;
        const acc1 = f(acc[j]! + f(g * g));
        acc[j] = acc1;
        out[i] = f(f(f(g / f(Math.sqrt(f(acc1 + eps)))) * negLr) + value[i]!);
      }
      return;
    }
    case "adadelta": {
      const [rho, omr, eps, negLr] = [s[0]!, s[1]!, s[2]!, s[3]!];
      const [accGrad, accUpdate] = [slots[0]!, slots[1]!];
      for (let i = 0; i < count; i++) {
        const j = at + i;
        const g = grad[j]!;
        const accGrad1 = f(f(accGrad[j]! * rho) + f(f(g * g) * omr));
        // tfjs divides by the accumulated gradients from before this step.
        const update = f(f(f(Math.sqrt(f(accUpdate[j]! + eps))) / f(Math.sqrt(f(accGrad[j]! + eps)))) * g);
        accGrad[j] = accGrad1;
        accUpdate[j] = f(f(accUpdate[j]! * rho) + f(f(update * update) * omr));
        out[i] = f(f(update * negLr) + value[i]!);
      }
      return;
    }
    default: {
      const impossible: never = name;
      throw new Error(`unknown optimizer ${String(impossible)}`);
    }
  }
}
