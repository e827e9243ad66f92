/**
 * The kernel's real display API and figure streams for tests of live figures, outside a kernel:
 * a display sink on globalThis collects the display messages the kernel would send, a comm
 * registry collects what it would send on comms, and the host lib/ looks for is installed.
 */
import { displayHostSymbol } from "../../kernel/display/index.js";
import { FigureStreams, liveDisplayHost } from "../../kernel/display/figure-streams.js";
import { displaySinkSymbol, type DisplayMessage } from "../../kernel/display/sink.js";
import type { CellEvent } from "../../kernel/execution/executor.js";
import { CommRegistry } from "../../kernel/execution/worker-comms.js";
import type { LiveDisplayHost } from "../../lib/plots/live-display.js";

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
  const globals = globalThis as Record<symbol, unknown>;
  return {
    messages,
    commEvents,
    comms,
    host,
    install() {
      globals[displaySinkSymbol] = { display: (message: DisplayMessage) => messages.push(message), clearOutput: () => undefined };
      globals[displayHostSymbol] = host;
    },
    uninstall() {
      delete globals[displaySinkSymbol];
      delete globals[displayHostSymbol];
    },
  };
}
