/**
 * The JupyterLab plugin that shows type errors in the editors of notebooks on ringbook's kernel
 * while the user types (see notebook-diagnostics.ts), following each notebook's kernel through
 * kernel changes until the notebook closes. Notebooks on other kernels are left alone.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import { INotebookTracker, type NotebookPanel } from "@jupyterlab/notebook";
import { NotebookDiagnostics } from "./notebook-diagnostics.js";

function followPanel(panel: NotebookPanel): void {
  const session = panel.sessionContext;
  const diagnostics = new NotebookDiagnostics(panel.content);
  const follow = (): void => diagnostics.setKernel(session.session?.kernel ?? undefined);
  session.kernelChanged.connect(follow);
  panel.disposed.connect(() => {
    session.kernelChanged.disconnect(follow);
    diagnostics.dispose();
  });
  follow();
}

/** Type errors as diagnostics in the cell editors of ringbook notebooks. */
export const diagnosticsPlugin: JupyterFrontEndPlugin<void> = {
  id: "ringbook-plotly:diagnostics",
  description: "Type errors of TypeScript cells underlined in the editor as you type, from ringbook's kernel over a comm.",
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    tracker.forEach(followPanel);
    tracker.widgetAdded.connect((_, panel) => followPanel(panel));
  },
};
