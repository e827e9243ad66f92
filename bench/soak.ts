/**
 * The soak for as long as asked (test/soak runs a short one): one kernel and one warm 2-worker
 * cluster through iterations of training with changed hyperparameters, `%%workers` cells,
 * interrupts, checkpoints and worker restarts. Prints a line per iteration, the start and end
 * values of every curve (medians of the first and last five iterations), and writes the curves
 * as an SVG plot.
 *
 * Usage: npm run build && node dist/bench/soak.js --minutes 30 [--svg soak.svg]
 */
import { writeFileSync } from "node:fs";
import { parseBenchArgs } from "./bench-args.js";
import { linePlot } from "../lib/plots/line-plot.js";
import { figureToSvg } from "../lib/plots/svg.js";
import { runSoak, type SoakSample } from "../test/soak/soak-session.js";
import { median } from "./stats.js";

const usage = "Usage: npm run build && node dist/bench/soak.js --minutes 30 [--svg soak.svg]";

const { values } = parseBenchArgs(usage, { options: { minutes: { type: "string", default: "5" }, svg: { type: "string", default: "soak.svg" } }, strict: true });
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error("--minutes must be a positive number");
const started = Date.now();
const samples = await runSoak({
  iterations: Number.MAX_SAFE_INTEGER,
  durationMs: minutes * 60_000,
  onSample: (s) =>
    console.log(
      `${s.iteration}\t${Math.round((Date.now() - started) / 1000)} s\tkernel ${s.kernelRssMiB.toFixed(0)} MiB ${s.kernelFds} fds\tworkers ${s.workerRssMiB.map((r) => r.toFixed(0)).join("/")} MiB ${s.workerFds.join("/")} fds\ttensors ${s.workerTensors.join("/")}\tdirs ${s.socketDirs}\t${Math.round(s.samplesPerSecond)} samples/s${s.restarted ? "\t(worker restarted)" : ""}`,
    ),
});
const curves: Array<[string, (s: SoakSample) => number]> = [
  ["kernel RSS (MiB)", (s) => s.kernelRssMiB],
  ["kernel fds", (s) => s.kernelFds],
  ["worker 0 RSS (MiB)", (s) => s.workerRssMiB[0] ?? Number.NaN],
  ["worker 1 RSS (MiB)", (s) => s.workerRssMiB[1] ?? Number.NaN],
  ["worker 0 fds", (s) => s.workerFds[0] ?? Number.NaN],
  ["worker 0 tensors", (s) => s.workerTensors[0] ?? Number.NaN],
  ["socket directories", (s) => s.socketDirs],
  ["samples/s", (s) => s.samplesPerSecond],
];
console.log(`\n${samples.length} iterations in ${Math.round((Date.now() - started) / 60_000)} min; start → end (medians of the first and last 5 iterations after 3 of warm-up):`);
const measured = samples.slice(3);
for (const [name, value] of curves) {
  console.log(`  ${name.padEnd(20)} ${median(measured.slice(0, 5).map(value)).toFixed(1)} → ${median(measured.slice(-5).map(value)).toFixed(1)}`);
}
const figure = linePlot(
  curves.filter(([name]) => !name.includes("samples")).map(([name, value]) => ({ name, x: samples.map((s) => s.iteration), y: samples.map(value) })),
  { title: `soak: ${samples.length} iterations` },
);
writeFileSync(values.svg, figureToSvg(figure));
console.log(`curves: ${values.svg}`);
