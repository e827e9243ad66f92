/**
 * The browser side of test/extensions/figure-streams: a JupyterLab output area (OutputArea +
 * RenderMimeRegistry) wired to a real ringbook kernel through @jupyterlab/services (a kernel the
 * notebook server started), with the *built* labextension loaded through its module federation
 * container: its MIME renderer draws the outputs and its plugin, activated with a notebook tracker
 * that holds one panel on that kernel (the seam: JupyterLab's own tracker needs the whole
 * application), opens the figure stream comm. The extension's other plugin (type errors in cell
 * editors) needs a whole notebook and is not activated here: the JupyterLab tests cover it. Every
 * IOPub message is recorded with its size. The test drives it through `window.ringbookKernelPage`.
 */
import { OutputArea, OutputAreaModel } from "@jupyterlab/outputarea";
import { RenderMimeRegistry, standardRendererFactories } from "@jupyterlab/rendermime";
import type { IRenderMime } from "@jupyterlab/rendermime-interfaces";
import { KernelManager, ServerConnection, type Kernel, type KernelMessage } from "@jupyterlab/services";
import { Token } from "@lumino/coreutils";
import { Signal } from "@lumino/signaling";
import * as widgets from "@lumino/widgets";
import widgetsPackage from "@lumino/widgets/package.json";
import * as codemirrorState from "@codemirror/state";
// Their exports maps leave package.json out: read from the extension's install.
import codemirrorStatePackage from "../node_modules/@codemirror/state/package.json";
import * as codemirrorView from "@codemirror/view";
import codemirrorViewPackage from "../node_modules/@codemirror/view/package.json";
import { loadContainer, shared } from "./federation.js";

declare global {
  interface Window {
    ringbookKernelPage: typeof page;
  }
}

const plotlyMimeType = "application/vnd.plotly.v1+json";

interface Traffic {
  type: string;
  bytes: number;
  /** For display messages: whether they carry a Plotly figure. */
  figure: boolean;
  commTarget?: string;
}

/** The part of a notebook panel the plugin uses. */
class PanelOnKernel {
  readonly disposed = new Signal<this, void>(this);
  readonly sessionContext: { session: { kernel: Kernel.IKernelConnection } | null; kernelChanged: Signal<unknown, unknown> };
  constructor(kernel: Kernel.IKernelConnection) {
    this.sessionContext = { session: { kernel }, kernelChanged: new Signal<unknown, unknown>(this) };
  }
}

const rendermime = new RenderMimeRegistry({ initialFactories: standardRendererFactories });
const model = new OutputAreaModel({ trusted: true });
const area = new OutputArea({ model, rendermime });
const traffic: Traffic[] = [];
let kernel: Kernel.IKernelConnection | undefined;
let manager: KernelManager | undefined;
let panel: PanelOnKernel | undefined;
let executing = false;
let lastReply = "";
/** When (ms after the last execute) the drawn loss trace first reached each length: for failure messages. */
let executeStartedMs = 0;
let drawnLengths: Array<[number, number]> = [];
new MutationObserver(() => {
  const length = lossTrace(area.node.querySelector<PlotElement>(".js-plotly-plot"))?.x?.length ?? -1;
  if (length !== (drawnLengths.at(-1)?.[1] ?? -1)) drawnLengths.push([Math.round(performance.now() - executeStartedMs), length]);
}).observe(area.node, { childList: true, subtree: true });

function lossTrace(plot: PlotElement | null): { name?: string; x?: unknown[] } | undefined {
  return plot?.data?.find((trace) => trace.name === "loss");
}

type PlotElement = HTMLElement & { data?: Array<{ name?: string; x?: unknown[] }> };

const page = {
  /** Loads the labextension, starts a `kernelName` kernel on the server, activates the plugin on it. */
  async setup(base: string, server: { origin: string; token: string }, kernelName: string): Promise<{ mimeExtensions: string; plugins: string; implementation: string }> {
    const notebookTokens = { INotebookTracker: new Token("@jupyterlab/notebook:INotebookTracker") };
    const { manifest, container } = await loadContainer(base, {
      "@lumino/widgets": shared(widgetsPackage.version, widgets),
      "@jupyterlab/notebook": shared("4.6.4", notebookTokens),
      // Singletons the diagnostics plugin imports; JupyterLab's page provides them.
      "@codemirror/state": shared(codemirrorStatePackage.version, codemirrorState),
      "@codemirror/view": shared(codemirrorViewPackage.version, codemirrorView),
    });
    const build = manifest.jupyterlab._build;
    const mime = (await container.get(build.mimeExtension!))().default as IRenderMime.IExtension;
    rendermime.addFactory(mime.rendererFactory, mime.rank);
    widgets.Widget.attach(area, document.getElementById("output")!);

    const serverSettings = ServerConnection.makeSettings({ baseUrl: `${server.origin}/`, wsUrl: server.origin.replace(/^http/, "ws") + "/", token: server.token, appendToken: true });
    manager = new KernelManager({ serverSettings });
    await manager.ready;
    kernel = await manager.startNew({ name: kernelName });
    const info = await kernel.info;
    kernel.iopubMessage.connect((_, message) => {
      const content = message.content as { data?: Record<string, unknown>; target_name?: string };
      const entry: Traffic = { type: message.header.msg_type, bytes: JSON.stringify(message.content).length, figure: content.data?.[plotlyMimeType] !== undefined };
      if (message.header.msg_type === "comm_msg") entry.commTarget = "ringbook.plotly";
      traffic.push(entry);
    });

    type Plugin = { id: string; requires?: unknown[]; activate(app: unknown, ...services: unknown[]): void };
    const exported = (await container.get(build.extension!))().default as Plugin | Plugin[];
    const plugin = (Array.isArray(exported) ? exported : [exported]).find((candidate) => candidate.id === "ringbook-plotly:figure-streams");
    if (plugin === undefined) throw new Error("the labextension has no ringbook-plotly:figure-streams plugin");
    if (plugin.requires?.[0] !== notebookTokens.INotebookTracker) throw new Error(`the plugin does not require the notebook tracker: ${String(plugin.requires)}`);
    panel = new PanelOnKernel(kernel);
    const widgetAdded = new Signal<unknown, PanelOnKernel>({});
    const tracker = { forEach: (callback: (panel: PanelOnKernel) => void) => callback(panel!), widgetAdded };
    plugin.activate({}, tracker);
    return { mimeExtensions: mime.id, plugins: plugin.id, implementation: info.implementation };
  },
  /** Open `ringbook.plotly` comms the kernel knows of. */
  async figureStreamComms(): Promise<number> {
    const reply = await kernel!.requestCommInfo({ target_name: "ringbook.plotly" });
    return reply.content.status === "ok" ? Object.keys(reply.content.comms).length : -1;
  },
  /** Runs `code` in a fresh output area, as a notebook cell does; resolves at once. */
  execute(code: string): void {
    model.clear();
    traffic.length = 0;
    executing = true;
    lastReply = "";
    executeStartedMs = performance.now();
    drawnLengths = [];
    const future = kernel!.requestExecute({ code });
    area.future = future;
    future.done.then(
      (reply: KernelMessage.IExecuteReplyMsg) => {
        lastReply = reply.content.status;
        executing = false;
      },
      (error: unknown) => {
        lastReply = `failed: ${String(error)}`;
        executing = false;
      },
    );
  },
  /** What is drawn and what came over IOPub since the last execute. */
  inspect() {
    const plot = area.node.querySelector<PlotElement>(".js-plotly-plot");
    const loss = lossTrace(plot);
    const figureUpdates = traffic.filter((entry) => entry.figure && entry.type === "update_display_data");
    const deltas = traffic.filter((entry) => entry.commTarget !== undefined);
    return {
      executing,
      lastReply,
      plots: area.node.querySelectorAll(".js-plotly-plot").length,
      lossX: (loss?.x ?? []) as number[],
      traces: plot?.data?.length ?? 0,
      pointsPerTrace: plot?.data?.map((trace) => trace.x?.length ?? 0) ?? [],
      figureUpdates: figureUpdates.length,
      figureUpdateBytes: figureUpdates.reduce((sum, entry) => sum + entry.bytes, 0),
      deltas: deltas.length,
      deltaBytes: deltas.reduce((sum, entry) => sum + entry.bytes, 0),
      result: area.node.querySelector(".jp-OutputArea-executeResult")?.textContent?.trim() ?? "",
      text: area.node.textContent ?? "",
      sinceExecuteMs: Math.round(performance.now() - executeStartedMs),
      drawnLengths: drawnLengths.map(([ms, length]) => `${length}@${ms}`).join(" "),
    };
  },
  /** Closes the panel: the plugin closes its comm. */
  closePanel(): void {
    panel?.disposed.emit();
    panel = undefined;
  },
  /** Restarts the kernel and waits until it answers again. */
  async restart(): Promise<void> {
    await kernel!.restart();
    await kernel!.info;
  },
  async shutdown(): Promise<void> {
    await kernel?.shutdown();
    manager?.dispose();
  },
};

window.ringbookKernelPage = page;
