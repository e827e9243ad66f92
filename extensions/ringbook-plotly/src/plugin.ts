/**
 * The JupyterLab plugin half of ringbook-plotly: for every notebook whose kernel is ringbook's, it
 * opens the figure stream comm (see kernel-streams.ts), so live figures append points from small
 * deltas instead of receiving the whole figure at every update. Without it (or with another
 * kernel), the MIME renderer still draws every whole figure. The module also exports the plugin
 * that underlines type errors in cell editors (diagnostics-plugin.ts).
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import { INotebookTracker, type NotebookPanel } from "@jupyterlab/notebook";
import { connectFigureStreams, type FigureStreamConnection } from "./kernel-streams.js";
import { diagnosticsPlugin } from "./diagnostics-plugin.js";

/** Follows the kernel of one notebook panel, through kernel changes, until the panel closes. */
function followPanel(panel: NotebookPanel): void {
  const session = panel.sessionContext;
  let connection: FigureStreamConnection | undefined;
  const follow = (): void => {
    connection?.dispose();
    const kernel = session.session?.kernel;
    connection = kernel ? connectFigureStreams(kernel) : undefined;
  };
  session.kernelChanged.connect(follow);
  panel.disposed.connect(() => {
    session.kernelChanged.disconnect(follow);
    connection?.dispose();
    connection = undefined;
  });
  follow();
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: "ringbook-plotly:figure-streams",
  description: "Live Plotly figures from ringbook's kernel updated by deltas over a comm.",
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    tracker.forEach(followPanel);
    tracker.widgetAdded.connect((_, panel) => followPanel(panel));
  },
};

export default [plugin, diagnosticsPlugin];
