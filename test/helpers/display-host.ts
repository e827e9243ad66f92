/**
 * The kernel's real display API and figure streams for tests of live figures, outside a kernel:
 * a notebook host whose displays collect the display messages the kernel would send and whose
 * comm registry collects what it would send on comms.
 */
import { FigureStreams, liveDisplayHost } from "../../kernel/display/figure-streams.js";
import type { CellEvent } from "../../kernel/execution/executor.js";
import { CommRegistry } from "../../kernel/execution/worker-comms.js";
import { installNotebookHost, type DisplayMessage, type LiveDisplayHost } from "../../lib/notebook-host.js";

export interface KernelDisplayHost {
  /** Display messages, in order. */
  readonly messages: DisplayMessage[];
  /** Comm events (opens, messages, closes), in order. */
  readonly commEvents: CellEvent[];
  /** Where a test opens and closes front ends' comms (`handleOpen`, `handleClose`). */
  readonly comms: CommRegistry;
  readonly host: LiveDisplayHost;
  install(): void;
  uninstall(): void;
}

export function kernelDisplayHost(): KernelDisplayHost {
  const messages: DisplayMessage[] = [];
  const commEvents: CellEvent[] = [];
  const comms = new CommRegistry((event) => commEvents.push(event));
  const host = liveDisplayHost(new FigureStreams(comms));
  let uninstall: (() => void) | undefined;
  return {
    messages,
    commEvents,
    comms,
    host,
    install() {
      uninstall = installNotebookHost({
        displays: { display: (message) => messages.push(message), clearOutput: () => undefined },
        liveFigures: host,
        comms,
        cellMagics: new Map(),
        interruptHooks: new Set(),
        shutdownHooks: new Set(),
      });
    },
    uninstall() {
      uninstall?.();
      uninstall = undefined;
    },
  };
}
