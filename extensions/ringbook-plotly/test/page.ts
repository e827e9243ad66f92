/**
 * The browser side of test/extensions (bundled by esbuild in the test): a JupyterLab output area
 * (OutputArea + RenderMimeRegistry with the standard factories) that loads the *built*
 * labextension the way JupyterLab does, through its module federation container, giving it
 * JupyterLab's @lumino/widgets from a share scope. The test drives it through `window.ringbookPage`.
 */
import { OutputArea, OutputAreaModel } from "@jupyterlab/outputarea";
import { RenderMimeRegistry, standardRendererFactories } from "@jupyterlab/rendermime";
import type { IRenderMime } from "@jupyterlab/rendermime-interfaces";
import * as widgets from "@lumino/widgets";
import widgetsPackage from "@lumino/widgets/package.json";
import { loadContainer, shared } from "./federation.js";

declare global {
  interface Window {
    ringbookPage: typeof page;
  }
}

const plotlyMimeType = "application/vnd.plotly.v1+json";
const rendermime = new RenderMimeRegistry({ initialFactories: standardRendererFactories });
const model = new OutputAreaModel({ trusted: true });
const area = new OutputArea({ model, rendermime });
let firstPlot: Element | null = null;
/** The MIME extension module's `deliverDelta`: what the plugin calls for each delta on a kernel's comm. */
let deliverDelta: ((delta: unknown) => void) | undefined;
/** Draws of the first plot since it was first inspected (plotly's `plotly_afterplot` events). */
let draws = 0;

type PlotElement = HTMLElement & { data?: Array<{ x?: unknown[] }>; on(event: string, listener: () => void): void };

function plotElement(): PlotElement | null {
  return area.node.querySelector<PlotElement>(".js-plotly-plot");
}

const page = {
  /** Loads `${base}/package.json`'s remote entry and registers its MIME extension; returns its id. */
  async loadLabextension(base: string): Promise<string> {
    // What JupyterLab's page provides: its own singletons (here only what the MIME extension consumes).
    const { manifest, container } = await loadContainer(base, { "@lumino/widgets": shared(widgetsPackage.version, widgets) });
    const module = (await container.get(manifest.jupyterlab._build.mimeExtension!))() as { default?: IRenderMime.IExtension | IRenderMime.IExtension[]; deliverDelta?: (delta: unknown) => void };
    const exported = module.default;
    deliverDelta = module.deliverDelta;
    const extensions = Array.isArray(exported) ? exported : exported === undefined ? [] : [exported];
    for (const extension of extensions) rendermime.addFactory(extension.rendererFactory, extension.rank);
    widgets.Widget.attach(area, document.getElementById("output")!);
    return extensions.map((extension) => extension.id).join(",");
  },
  /** The MIME type JupyterLab picks for `bundle`, trusted (live) and untrusted (a reopened notebook). */
  preferred(bundle: Record<string, unknown>): { trusted: string | undefined; untrusted: string | undefined } {
    return { trusted: rendermime.preferredMimeType(bundle as never, "any"), untrusted: rendermime.preferredMimeType(bundle as never, "ensure") };
  },
  /** display_data */
  display(bundle: Record<string, unknown>): void {
    model.add({ output_type: "display_data", data: bundle as never, metadata: {} });
  },
  /** update_display_data: what OutputArea does for the output that has this display id. */
  update(bundle: Record<string, unknown>): void {
    model.set(0, { output_type: "display_data", data: bundle as never, metadata: {} });
  },
  /** display_data of a live figure: the bundle with its stream tag in the Plotly output's metadata, as ringbook's kernel sends it. */
  displayLive(bundle: Record<string, unknown>, tag: { stream: string; revision: number }): void {
    model.add({ output_type: "display_data", data: bundle as never, metadata: { [plotlyMimeType]: { ringbook: tag } } });
  },
  /** update_display_data of a live figure. */
  updateLive(bundle: Record<string, unknown>, tag: { stream: string; revision: number }): void {
    model.set(0, { output_type: "display_data", data: bundle as never, metadata: { [plotlyMimeType]: { ringbook: tag } } });
  },
  /** A figure delta as it arrives on the kernel's comm. */
  deliver(delta: unknown): void {
    if (deliverDelta === undefined) throw new Error("the MIME extension exports no deliverDelta");
    deliverDelta(delta);
  },
  /** Updates the output once per bundle, all in one task, as a burst of messages would. */
  updateMany(bundles: Array<Record<string, unknown>>): void {
    for (const bundle of bundles) page.update(bundle);
  },
  /** What is drawn: plotly's element and its traces (`gd.data`), and whether it is the first one. */
  inspect() {
    const plot = plotElement();
    if (firstPlot === null && plot !== null) {
      firstPlot = plot;
      plot.on("plotly_afterplot", () => draws++);
    }
    const renderer = area.widgets[0] === undefined ? undefined : (area.widgets[0] as widgets.Panel).widgets.at(-1);
    return {
      outputs: area.widgets.length,
      plots: area.node.querySelectorAll(".js-plotly-plot").length,
      staticSvgs: area.node.querySelectorAll(".ringbook-plot > svg").length,
      traces: plot?.data?.length ?? 0,
      points: plot?.data?.map((trace) => trace.x?.length ?? 0) ?? [],
      lastX: plot?.data?.[0]?.x?.at(-1),
      draws,
      samePlotElement: plot !== null && plot === firstPlot,
      rendererClass: renderer?.node.className ?? "",
      rendererIsHostWidget: renderer instanceof widgets.Widget,
      plotWidthPx: plot?.querySelector(".main-svg")?.getBoundingClientRect().width ?? 0,
    };
  },
  /** Clears the output (JupyterLab disposes the renderer); true once the first plot is purged. */
  clearAndCheckPurged(): boolean {
    if (model.length > 0) model.clear();
    const plot = firstPlot as (Element & { data?: unknown; _fullLayout?: unknown }) | null;
    return plot !== null && !plot.isConnected && plot.data === undefined && plot._fullLayout === undefined;
  },
  /** Sets the output area's width, as a resized panel does. */
  setWidth(widthPx: number): void {
    document.getElementById("output")!.style.width = `${widthPx}px`;
  },
};

window.ringbookPage = page;
