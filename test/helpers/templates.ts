/**
 * The notebook templates of `notebooks/` as CI runs them: the parameters that make each run quick,
 * and checks of the executed notebook's outputs (not only the exit status): every code cell ran
 * without an error, the live progress line and Plotly figures (with their SVG fallback) are there,
 * and the JSON summary line each training template prints at its end shows that training worked
 * (the loss fell, the test accuracy is above chance, ...).
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The repository root (this file runs from dist/test/helpers/). */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const notebooksDir = fileURLToPath(new URL("../../../notebooks/", import.meta.url));

/** A parameter value as `ringbook run -p` takes it. */
type Parameter = number | string | boolean | number[];

export interface TemplateSpec {
  name: string;
  /** Values that keep a CI run short. */
  ciParameters: Record<string, Parameter>;
  /** Plotly figures the run shows at least (live training views included). */
  minFigures: number;
  /** Checks the executed notebook beyond the common checks; gets its summary line, if any. */
  check: (executed: ExecutedNotebook, summary: Record<string, unknown> | undefined) => void;
}

/** The parts of an executed notebook the checks read. */
export interface ExecutedNotebook {
  codeCells: Array<{ source: string; executionCount: number | null; outputs: Array<Record<string, unknown>> }>;
  /** All stream text, display text/plain (else text/markdown) and error text, in order. */
  text: string;
}

function record(value: unknown, what: string): Record<string, unknown> {
  assert.ok(typeof value === "object" && value !== null && !Array.isArray(value), `${what} is an object`);
  return value as Record<string, unknown>;
}

function number(summary: Record<string, unknown> | undefined, key: string): number {
  const value = summary?.[key];
  assert.equal(typeof value, "number", `summary.${key} is a number: ${JSON.stringify(summary)}`);
  return value as number;
}

/** nbformat stores multi-line strings as lists of lines (nbclient does; ringbook run does not). */
function multiline(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join("") : String(value ?? "");
}

/** Parses an executed notebook (nbformat 4) into what the checks read. */
export function parseExecuted(json: string): ExecutedNotebook {
  const notebook = record(JSON.parse(json), "the notebook");
  assert.ok(Array.isArray(notebook["cells"]), "the notebook has cells");
  const codeCells = (notebook["cells"] as unknown[])
    .map((cell, index) => record(cell, `cell ${index + 1}`))
    .filter((cell) => cell["cell_type"] === "code")
    .map((cell) => {
      const source = multiline(cell["source"]);
      const outputs = Array.isArray(cell["outputs"]) ? cell["outputs"].map((output, i) => record(output, `output ${i}`)) : [];
      const count = cell["execution_count"];
      return { source, executionCount: typeof count === "number" ? count : null, outputs };
    });
  const text = codeCells
    .flatMap((cell) => cell.outputs)
    .map((output) => {
      if (output["output_type"] === "stream") return multiline(output["text"]);
      if (output["output_type"] === "error") return `${String(output["ename"])}: ${String(output["evalue"])}\n`;
      const data = output["data"] === undefined ? {} : record(output["data"], "output data");
      return `${multiline(data["text/plain"] ?? data["text/markdown"])}\n`;
    })
    .join("");
  return { codeCells, text };
}

/** The last stdout line that is a JSON object naming the template. */
export function summaryOf(executed: ExecutedNotebook, name: string): Record<string, unknown> | undefined {
  const lines = executed.text.split("\n").filter((line) => line.startsWith("{") && line.includes(`"template":"${name}"`));
  const last = lines.at(-1);
  return last === undefined ? undefined : record(JSON.parse(last), "the summary line");
}

/** Worker pids shown by `cluster.describe()` tables in the outputs. */
export function describedPids(executed: ExecutedNotebook): number[] {
  const pids = new Set<number>();
  for (const match of executed.text.matchAll(/^\d+\s+(\d+)\s+\S+\s+\S+\s+\S+\s+(?:ready|busy|dead|starting|closed)$/gm)) pids.add(Number(match[1]));
  return [...pids];
}

/** Checks every template shares, then the template's own. */
export function checkTemplateRun(spec: TemplateSpec, json: string): { summary: Record<string, unknown> | undefined; pids: number[] } {
  const executed = parseExecuted(json);
  for (const [index, cell] of executed.codeCells.entries()) {
    const errors = cell.outputs.filter((output) => output["output_type"] === "error");
    assert.deepEqual(errors, [], `code cell ${index + 1} has no error output:\n${cell.source}`);
    assert.notEqual(cell.executionCount, null, `code cell ${index + 1} ran`);
  }
  const figures = executed.codeCells
    .flatMap((cell) => cell.outputs)
    .filter((output) => {
      const data = output["data"];
      return typeof data === "object" && data !== null && "application/vnd.plotly.v1+json" in data && "image/svg+xml" in data;
    });
  assert.ok(figures.length >= spec.minFigures, `${spec.name}: ${figures.length} Plotly figures with an SVG fallback, expected ${spec.minFigures} or more`);
  for (const figure of figures) {
    const data = record(figure["data"], "figure data");
    const plotly = record(data["application/vnd.plotly.v1+json"], "the plotly JSON");
    assert.ok(Array.isArray(plotly["data"]) && plotly["data"].length > 0, "the figure has traces");
    assert.match(multiline(data["image/svg+xml"]), /^<svg[\s\S]*<\/svg>\s*$/, "the SVG fallback is an SVG document");
  }
  const summary = summaryOf(executed, spec.name);
  spec.check(executed, summary);
  return { summary, pids: describedPids(executed) };
}

/** Asserts the loss fell: the last value is below the first by a margin. */
function assertLossFell(first: number, last: number, what: string): void {
  assert.ok(Number.isFinite(first) && Number.isFinite(last), `${what}: finite losses (${first} → ${last})`);
  assert.ok(last < first * 0.95, `${what}: the loss fell (${first} → ${last})`);
}

/** The live view's final progress line (training templates). */
function assertProgress(executed: ExecutedNotebook, state: "done" | "failed", count: number): void {
  // A failed run names why first: `failed: worker rank 1 ... · step 12/33 · ...`.
  const lines = executed.text.match(new RegExp(`^${state}: (?:.+ · )?step \\d+/\\d+ · epoch \\d+/\\d+ · loss [\\d.]+ · [\\d,]+ samples/s$`, "gm")) ?? [];
  // Each live view shows the line twice: the progress display and the figure's text/plain.
  assert.ok(lines.length >= count, `${count} progress line(s) "${state}: step ..." (found ${lines.length})`);
}

const mnistTrainSize = 8500;

export const templates: TemplateSpec[] = [
  {
    name: "kernel-tour",
    ciParameters: { points: 30, title: "CI wave" },
    minFigures: 1,
    check: (executed) => {
      assert.match(executed.text, /^30 samples, last y = /m);
      assert.match(executed.text, /^\*\*step 5 of 5\*\*$/m, "the progress display ends in its last state");
      assert.match(executed.text, /^-?\d+\.\d+$/m, "the last cell's result, a number");
    },
  },
  {
    name: "quickstart",
    ciParameters: { epochs: 1, stepsPerEpoch: 15 },
    minFigures: 1,
    check: (executed, summary) => {
      assertProgress(executed, "done", 1);
      assert.equal(number(summary, "workers"), 2);
      assert.equal(number(summary, "steps"), 15);
      assertLossFell(number(summary, "firstLoss"), number(summary, "finalLoss"), "quickstart");
      assert.ok(number(summary, "samplesPerSecond") > 0);
      assert.ok(number(summary, "testAccuracy") > 0.5, `test accuracy ${number(summary, "testAccuracy")} (chance is 0.1)`);
      // Validation on the workers saw the same test digits with the same weights as evaluate here.
      assert.ok(Math.abs(number(summary, "valAccuracy") - number(summary, "testAccuracy")) < 1e-4, `val_accuracy ${number(summary, "valAccuracy")} vs evaluate ${number(summary, "testAccuracy")}`);
      assert.equal(number(summary, "reloadedAccuracy"), number(summary, "testAccuracy"), "the saved and reloaded model predicts as the trained one");
      assert.match(executed.text, /^epoch 1: val_loss [\d.]+, val_accuracy [\d.]+%$/m);
      assert.match(executed.text, /^test accuracy: [\d.]+% of \d+ digits; saved to .*, reloaded: [\d.]+%$/m);
    },
  },
  {
    name: "regression",
    ciParameters: { samples: 1200, epochs: 6, patience: 2 },
    minFigures: 1,
    check: (executed, summary) => {
      assertProgress(executed, "done", 1);
      assertLossFell(number(summary, "firstLoss"), number(summary, "finalLoss"), "regression");
      const baseline = number(summary, "baselineMse");
      assert.ok(number(summary, "bestValLoss") < baseline * 0.7, `best val_loss ${number(summary, "bestValLoss")} against ${baseline} for predicting the mean`);
      // The weights copied here are the best epoch's when early stopping restored them, else the last epoch's.
      if (summary?.["restoredBestWeights"] === true) assert.ok(Math.abs(number(summary, "evaluatedMse") - number(summary, "bestValLoss")) < 1e-4, `evaluate here ${number(summary, "evaluatedMse")} vs best val_loss ${number(summary, "bestValLoss")}`);
      assert.ok(number(summary, "evaluatedMse") < baseline * 0.7);
      assert.equal(number(summary, "reloadDifference"), 0, "the reloaded model predicts exactly as the trained one");
      assert.match(executed.text, /^epoch 1: val_loss [\d.]+, val_mae [\d.]+$/m);
    },
  },
  {
    name: "cnn",
    ciParameters: { epochs: 1, stepsPerEpoch: 15 },
    minFigures: 1,
    check: (executed, summary) => {
      assertProgress(executed, "done", 1);
      assert.equal(number(summary, "steps"), 15);
      assertLossFell(number(summary, "firstLoss"), number(summary, "finalLoss"), "cnn");
      assert.ok(number(summary, "testAccuracy") > 0.2, `test accuracy ${number(summary, "testAccuracy")} (chance is 0.1)`);
    },
  },
  {
    name: "scaling-study",
    ciParameters: { workerCounts: [1, 2, 4], steps: 12, warmupSteps: 2 },
    minFigures: 4,
    check: (executed, summary) => {
      assertProgress(executed, "done", 3);
      const measurements = summary?.["measurements"];
      assert.ok(Array.isArray(measurements), `summary.measurements: ${JSON.stringify(summary)}`);
      assert.deepEqual(measurements.map((m) => record(m, "a measurement")["workers"]), [1, 2, 4]);
      for (const m of measurements.map((value) => record(value, "a measurement"))) {
        assert.ok(number(m, "samplesPerSecond") > 0, `throughput with ${String(m["workers"])} worker(s)`);
        assertLossFell(number(m, "firstLoss"), number(m, "finalLoss"), `${String(m["workers"])} worker(s)`);
      }
      assert.match(executed.text, /^4 worker\(s\): \d+ samples\/s$/m);
    },
  },
  {
    name: "hyperparameter-sweep",
    ciParameters: { learningRates: [0.001, 0.003, 0.01], stepsPerRun: 12 },
    minFigures: 4,
    check: (executed, summary) => {
      assertProgress(executed, "done", 3);
      const runs = summary?.["runs"];
      assert.ok(Array.isArray(runs), `summary.runs: ${JSON.stringify(summary)}`);
      assert.deepEqual(runs.map((run) => record(run, "a run")["learningRate"]), [0.001, 0.003, 0.01]);
      for (const run of runs.map((value) => record(value, "a run"))) {
        assert.equal(number(run, "steps"), 12);
        assertLossFell(number(run, "firstLoss"), number(run, "finalLoss"), `learning rate ${String(run["learningRate"])}`);
      }
      assert.ok([0.001, 0.003, 0.01].includes(number(summary, "bestLearningRate")));
      const chart = executed.codeCells.flatMap((cell) => cell.outputs).find((output) => multiline(record(output["data"] ?? {}, "data")["text/plain"]) === "Plotly figure with 3 trace(s)");
      assert.ok(chart, "one chart with the three loss curves");
    },
  },
  {
    name: "worker-failure",
    ciParameters: { epochs: 1, checkpointEvery: 5, killAtStep: 12 },
    minFigures: 2,
    check: (executed, summary) => {
      assertProgress(executed, "failed", 1);
      assertProgress(executed, "done", 1);
      const killedPid = number(summary, "killedPid");
      assert.match(String(summary?.["error"]), new RegExp(`worker rank 1 \\(pid ${killedPid}\\) was killed by SIGKILL`));
      assert.match(String(summary?.["error"]), /Restart it with cluster\.restart\(\)/);
      assert.match(executed.text, new RegExp(`^1 +${killedPid}( +\\S+)* +dead$`, "m"), "describe() shows the dead rank");
      assert.notEqual(number(summary, "replacementPid"), killedPid, "restart() started a new process");
      // Ranks may run a few steps past what the notebook saw before the kill lands, so the last
      // checkpoint can be later than the step the notebook saw; it is a multiple of 5 before the end.
      const resumedFrom = number(summary, "resumedFromStep");
      assert.ok(resumedFrom >= 5 && resumedFrom % 5 === 0 && resumedFrom < 34, `resumed from a checkpoint step (${resumedFrom})`);
      assert.ok(number(summary, "killedAtStep") >= 12, "killed once the run passed killAtStep");
      assert.equal(number(summary, "steps"), Math.ceil(mnistTrainSize / 256), "the resumed run finished the epoch");
      assert.ok(number(summary, "lossAtResume") < number(summary, "firstLoss") * 0.9, "the resumed run starts from trained weights");
      assertLossFell(number(summary, "firstLoss"), number(summary, "finalLoss"), "worker-failure");
    },
  },
];

/** Template names with a source in notebooks/src/. */
export function templateSources(): string[] {
  return readdirSync(new URL("../../../notebooks/src/", import.meta.url))
    .filter((name) => name.endsWith(".ts"))
    .map((name) => name.slice(0, -3))
    .sort();
}
