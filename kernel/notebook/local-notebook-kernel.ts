import { LocalKernel } from "../client/local-kernel.js";
import type { NotebookKernel } from "./run-notebook.js";

/** A fresh local ringbook kernel for a notebook run, in the notebook's folder. */
export async function startLocalNotebookKernel(options: { cwd: string; onStderr?: (text: string) => void }): Promise<NotebookKernel> {
  const kernel = await LocalKernel.start({ cwd: options.cwd, ...(options.onStderr ? { onStderr: options.onStderr } : {}) });
  const info = (await kernel.client.request("shell", "kernel_info_request", {})).reply.content;
  return {
    info,
    died: kernel.exited.then(({ code, signal }) => `the kernel process exited (code ${code}, signal ${signal})`),
    async execute(code, onIopub, { signal }) {
      const { reply, status } = await kernel.client.request(
        "shell",
        "execute_request",
        { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
        // Output the cell causes after it ended (a timer, a training run) still reaches its cell.
        { onIopub, signal, keepListening: true },
      );
      return { status: status === "ok" || status === "aborted" ? status : "error", content: reply.content };
    },
    interrupt: () => kernel.interrupt({ signal: AbortSignal.timeout(5000) }),
    close: () => kernel.close(),
  };
}
