// %% [markdown]
// # A tour of the ringbook kernel
// TypeScript cells with top-level `await`, declarations that persist across cells, rich display
// and live updates. Run it headless with `npx ringbook run notebooks/kernel-tour.ipynb`.

// %% parameters
const points = 50;
const title = "A damped wave";

// %%
interface Sample { x: number; y: number }
function wave(n: number): Sample[] {
  return Array.from({ length: n }, (_, i) => ({ x: i / 5, y: Math.exp(-i / n) * Math.sin(i / 2) }));
}
const samples = wave(points);
console.log(`${samples.length} samples, last y = ${samples.at(-1)!.y.toFixed(4)}`);

// %%
display.plotly({
  data: [{ type: "scatter", mode: "lines", x: samples.map((s) => s.x), y: samples.map((s) => s.y) }],
  layout: { title: { text: title }, xaxis: { title: { text: "x" } } },
});

// %%
const progress = display.create("starting…");
for (let step = 1; step <= 5; step++) {
  await new Promise((resolve) => setTimeout(resolve, 20));
  progress.markdown(`**step ${step} of 5**`);
}
samples.reduce((sum, s) => sum + s.y, 0)
