/**
 * TensorFlow.js as ringbook's modules load it: through `require`, in a CommonJS module whose
 * exports Node's ESM loader does not analyse. An ESM `import` of `@tensorflow/tfjs` makes Node
 * scan its ~7 MB of CommonJS bundles for named exports (cjs-module-lexer follows every
 * re-export), about twice the time `require` takes to load them; every worker and the
 * kernel pays it at start. Import this module's default export instead:
 *
 * @example
 * import tf from "../tfjs.cjs";
 * const x: tf.Tensor = tf.scalar(1);
 */
import firstLoad = require("./tfjs-first-load.cjs"); // loads it without the packages a worker does not start with
import tf = require("@tensorflow/tfjs");
export = tf;
