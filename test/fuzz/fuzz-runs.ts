/**
 * fast-check parameters of the fuzz tests: a short run in the suite; more inputs through FUZZ_RUNS
 * and another seed through FUZZ_SEED (bench/fuzz.ts sets both; a failure prints the seed and path
 * that reproduce it).
 */
export function fuzzParameters(defaultRuns = 500): { numRuns: number; seed?: number } {
  const runs = Number(process.env["FUZZ_RUNS"] ?? defaultRuns);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`FUZZ_RUNS must be a positive integer, got ${JSON.stringify(process.env["FUZZ_RUNS"])}`);
  const seedText = process.env["FUZZ_SEED"];
  if (seedText === undefined) return { numRuns: runs };
  const seed = Number(seedText);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${JSON.stringify(seedText)}`);
  return { numRuns: runs, seed };
}
