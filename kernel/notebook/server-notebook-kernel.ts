import { basename } from "node:path";
import { KernelManager, ServerConnection, SessionManager } from "@jupyterlab/services";
import type { KernelMessage, Session } from "@jupyterlab/services";
import { RingbookError } from "../../lib/errors.js";
import type { JsonObject } from "../protocol/json-guards.js";
import type { NotebookKernel } from "./run-notebook.js";

/**
 * A ringbook kernel started through a running Jupyter Server (its REST API and websocket), via
 * `@jupyterlab/services`. Uses the kernel and session managers only: ServiceManager's event stream
 * 404s on Debian's jupyter-server 1.x and takes the process down.
 */
export async function startServerNotebookKernel(options: { baseUrl: string; token: string; notebookPath: string; kernelName?: string }): Promise<NotebookKernel> {
  const serverSettings = ServerConnection.makeSettings({ baseUrl: options.baseUrl, token: options.token, appendToken: true });
  const kernelManager = new KernelManager({ serverSettings });
  const sessionManager = new SessionManager({ kernelManager, serverSettings });
  const dispose = (): void => {
    sessionManager.dispose();
    kernelManager.dispose();
  };
  let session: Session.ISessionConnection;
  try {
    await kernelManager.ready;
    session = await sessionManager.startNew({
      path: `ringbook-run-${process.pid}-${Date.now()}/${basename(options.notebookPath)}`,
      type: "notebook",
      name: basename(options.notebookPath),
      kernel: { name: options.kernelName ?? "ringbook" },
    });
  } catch (error) {
    dispose();
    throw new RingbookError("ERR_SERVER", `could not start a ${options.kernelName ?? "ringbook"} kernel on ${options.baseUrl}: ${(error as Error).message}`, { cause: error });
  }
  const kernel = session.kernel;
  if (kernel === null) {
    await session.shutdown().catch(() => undefined);
    dispose();
    throw new RingbookError("ERR_SERVER", `the server at ${options.baseUrl} started a session without a kernel`);
  }
  const info = await kernel.info;
  let markDead: (why: string) => void = () => undefined;
  const died = new Promise<string>((resolve) => (markDead = resolve));
  kernel.statusChanged.connect((_, status) => {
    if (status === "dead") markDead(`the server reports the kernel dead`);
  });
  /** Every cell's future stays until the run ends, so that output a cell causes after it ended still reaches it. */
  const futures = new Set<{ dispose(): void }>();
  return {
    info: info as unknown as JsonObject,
    died,
    async execute(code, onIopub, { signal }) {
      const future = kernel.requestExecute({ code, stop_on_error: true, allow_stdin: false, store_history: true, silent: false }, false);
      futures.add(future);
      future.onIOPub = (message: KernelMessage.IIOPubMessage) => onIopub({ header: { ...message.header }, content: message.content as unknown as JsonObject });
      const abort = (): void => future.dispose();
      signal.addEventListener("abort", abort, { once: true });
      try {
        const reply = await future.done;
        const content = reply.content as unknown as JsonObject;
        const status = content["status"];
        return { status: status === "ok" || status === "aborted" ? status : "error", content };
      } finally {
        signal.removeEventListener("abort", abort);
      }
    },
    interrupt: () => kernel.interrupt(),
    async close() {
      try {
        await session.shutdown();
      } finally {
        for (const future of futures) future.dispose();
        futures.clear();
        dispose();
      }
    },
  };
}
