/**
 * Opens the `ringbook.plotly` comm on a kernel connection, when the kernel is ringbook's, and
 * hands every delta that arrives on it to the renderers of its stream. The comm is opened again
 * after a kernel restart (a restart forgets comms on both sides). A delta that fails to parse is
 * reported on the console and dropped: the next whole figure the kernel shows repairs the plot.
 */
import type { Kernel, KernelMessage } from "@jupyterlab/services";
import { figureStreamProtocol, figureStreamTarget, parseFigureDelta } from "./figure-stream.js";
import { deliverDelta } from "./live-figures.js";

/** What {@link connectFigureStreams} returns: closes the comm and stops watching the kernel. */
export interface FigureStreamConnection {
  dispose(): void;
}

/** Follows `kernel`'s figure streams until disposed (or until the connection is disposed). */
export function connectFigureStreams(kernel: Kernel.IKernelConnection): FigureStreamConnection {
  let comm: Kernel.IComm | undefined;
  let opening: Promise<void> | undefined;
  let disposed = false;
  /** Another kernel (the implementation of a connection never changes): nothing to open, ever. */
  let notRingbook = false;

  const onMessage = (message: KernelMessage.ICommMsgMsg): void => {
    try {
      deliverDelta(parseFigureDelta(message.content.data));
    } catch (error) {
      console.warn(`ringbook-plotly: dropped a message on comm ${message.content.comm_id}:`, error);
    }
  };

  const open = (): Promise<void> => {
    opening ??= (async () => {
      const info = await kernel.info;
      if (info.implementation !== "ringbook") notRingbook = true;
      if (disposed || kernel.isDisposed || notRingbook) return;
      const opened = kernel.createComm(figureStreamTarget);
      opened.onMsg = onMessage;
      opened.onClose = () => {
        if (comm === opened) comm = undefined;
      };
      comm = opened;
      await opened.open({ protocol: figureStreamProtocol }).done;
    })().finally(() => {
      opening = undefined;
    });
    return opening;
  };

  const openLogged = (): void => {
    open().catch((error: unknown) => console.warn("ringbook-plotly: could not open the figure stream comm:", error));
  };

  const onStatus = (_: Kernel.IKernelConnection, status: KernelMessage.Status): void => {
    if (status === "restarting" || status === "autorestarting" || status === "dead") {
      comm = undefined; // the connection disposes its comms on restart
    } else if (status === "idle" && comm === undefined && opening === undefined && !disposed && !notRingbook) {
      openLogged();
    }
  };

  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    kernel.statusChanged.disconnect(onStatus);
    kernel.disposed.disconnect(dispose);
    const closing = comm;
    comm = undefined;
    if (closing !== undefined && !closing.isDisposed && !kernel.isDisposed) {
      void closing.close().done.catch(() => undefined);
    }
  };

  kernel.statusChanged.connect(onStatus);
  kernel.disposed.connect(dispose);
  openLogged();
  return { dispose };
}
