/**
 * The fuzz suites (test/fuzz) for as long as asked: rounds of the compiled suites with a new seed
 * and FUZZ_RUNS inputs per property each, until `--seconds` have passed. Prints each round's seed
 * and outcome; a failing round prints fast-check's counterexample and the seed that reproduces it
 * (FUZZ_SEED=... FUZZ_RUNS=... node test/run.mjs fuzz/).
 *
 * Usage: npm run build && node dist/bench/fuzz.js --seconds 600 [--runs 5000]
 */
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseBenchArgs } from "./bench-args.js";

const usage = "Usage: npm run build && node dist/bench/fuzz.js --seconds 600 [--runs 5000]";

const { values } = parseBenchArgs(usage, { options: { seconds: { type: "string", default: "60" }, runs: { type: "string", default: "5000" } }, strict: true });
const seconds = Number(values.seconds);
const runs = Number(values.runs);
if (!(seconds > 0) || !Number.isSafeInteger(runs) || runs < 1) throw new Error("--seconds must be positive and --runs a positive integer");
const runner = fileURLToPath(new URL("../../test/run.mjs", import.meta.url));
const started = Date.now();
let rounds = 0;
let failures = 0;
while (Date.now() - started < seconds * 1000) {
  const seed = randomInt(2 ** 31 - 1);
  const result = spawnSync(process.execPath, [runner, "fuzz/"], { env: { ...process.env, FUZZ_SEED: String(seed), FUZZ_RUNS: String(runs) }, encoding: "utf8" });
  rounds++;
  const ok = result.status === 0;
  if (!ok) failures++;
  console.log(`round ${rounds}: seed ${seed}, ${runs} inputs per property: ${ok ? "pass" : "FAIL"}`);
  if (!ok) console.log(`${result.stdout}${result.stderr}`.split("\n").filter((line) => /Counterexample|Seed|seed|✖|Error/.test(line)).slice(0, 20).join("\n"));
}
console.log(`${rounds} rounds in ${Math.round((Date.now() - started) / 1000)} s, ${failures} failed`);
process.exitCode = failures > 0 ? 1 : 0;
