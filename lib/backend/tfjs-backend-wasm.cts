/** tfjs's wasm backend through `require`, for the reason given in lib/tfjs.cts (~40 ms per process). */
import wasm = require("@tensorflow/tfjs-backend-wasm");
export = wasm;
