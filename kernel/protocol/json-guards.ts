/** The JSON guards live in lib/ (the cluster's wire parsers use them too). */
export { isJsonObject, quote, type JsonObject } from "../../lib/json-guards.js";
