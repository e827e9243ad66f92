/**
 * Opens the `ringbook.diagnostics` comm on a kernel connection, when the kernel is ringbook's,
 * sends checks on it and hands every parsed answer to its owner. The comm is opened again after a
 * kernel restart (a restart forgets comms on both sides). A kernel that closes the comm (type
 * checks turned off, another protocol version: it says why; an older ringbook without the target)
 * is not asked again until it restarts. An answer that fails to parse is reported on the console and dropped.
 */
import type { Kernel, KernelMessage } from "@jupyterlab/services";
import { diagnosticsProtocol, diagnosticsTarget, parseDiagnosticsReply, type CheckRequest, type DiagnosticsReply } from "./diagnostics-protocol.js";

/** What the owner of a {@link DiagnosticsComm} hears. */
export interface DiagnosticsCommEvents {
  /** The comm is open: checks can be sent (again, after a restart). */
  opened(): void;
  /** A parsed answer of the kernel. */
  answered(reply: DiagnosticsReply): void;
  /** The comm is gone (restart, refusal, dead kernel): checks sent on it will not be answered. */
  lost(): void;
}

/** The diagnostics comm of one kernel connection, until disposed. */
export class DiagnosticsComm {
  readonly #kernel: Kernel.IKernelConnection;
  readonly #events: DiagnosticsCommEvents;
  #comm: Kernel.IComm | undefined;
  #opening: Promise<void> | undefined;
  #disposed = false;
  /** Another kernel (the implementation of a connection never changes): nothing to open, ever. */
  #notRingbook = false;
  /** The kernel closed the comm with a reason: not reopened until the kernel restarts. */
  #refused = false;

  constructor(kernel: Kernel.IKernelConnection, events: DiagnosticsCommEvents) {
    this.#kernel = kernel;
    this.#events = events;
    kernel.statusChanged.connect(this.#onStatus);
    kernel.disposed.connect(this.dispose);
    this.#openLogged();
  }

  /** True when this kernel will not answer checks: another kernel than ringbook's, or one that refused the comm (until it restarts). */
  get unavailable(): boolean {
    return this.#notRingbook || this.#refused;
  }

  /** True while checks can be sent. */
  get isOpen(): boolean {
    return this.#comm !== undefined && !this.#comm.isDisposed;
  }

  /** Sends one check; false when the comm is not open (nothing was sent). */
  send(request: CheckRequest): boolean {
    const comm = this.#comm;
    if (comm === undefined || comm.isDisposed || this.#kernel.isDisposed) return false;
    // The answer arrives as a comm message; this future only ends with the kernel's idle, or is
    // cancelled by a restart (then `lost` has told the owner).
    comm.send({ ...request }).done.catch(() => undefined);
    return true;
  }

  /** Closes the comm and stops watching the kernel. Idempotent. */
  readonly dispose = (): void => {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#kernel.statusChanged.disconnect(this.#onStatus);
    this.#kernel.disposed.disconnect(this.dispose);
    const closing = this.#comm;
    this.#comm = undefined;
    if (closing !== undefined && !closing.isDisposed && !this.#kernel.isDisposed) {
      closing.close().done.catch(() => undefined);
    }
  };

  #open(): Promise<void> {
    this.#opening ??= (async () => {
      const info = await this.#kernel.info;
      if (info.implementation !== "ringbook") this.#notRingbook = true;
      if (this.#disposed || this.#kernel.isDisposed || this.#notRingbook) return;
      const opened = this.#kernel.createComm(diagnosticsTarget);
      opened.onMsg = (message: KernelMessage.ICommMsgMsg) => this.#onMessage(message);
      opened.onClose = (message: KernelMessage.ICommCloseMsg) => {
        if (this.#comm !== opened) return;
        this.#comm = undefined;
        // Closed by the kernel: refused (it says why), or a kernel without the target.
        this.#refused = true;
        const reason = message.content.data["error"];
        console.info(`ringbook-plotly: no type errors in the editor: ${typeof reason === "string" ? reason : "the kernel closed the diagnostics comm"}`);
        this.#events.lost();
      };
      this.#comm = opened;
      await opened.open({ protocol: diagnosticsProtocol }).done;
      if (this.#comm === opened && !this.#disposed) this.#events.opened();
    })().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  #openLogged(): void {
    this.#open().catch((error: unknown) => console.warn("ringbook-plotly: could not open the diagnostics comm:", error));
  }

  #onMessage(message: KernelMessage.ICommMsgMsg): void {
    let reply: DiagnosticsReply;
    try {
      reply = parseDiagnosticsReply(message.content.data);
    } catch (error) {
      console.warn(`ringbook-plotly: dropped a message on the diagnostics comm ${message.content.comm_id}:`, error);
      return;
    }
    this.#events.answered(reply);
  }

  readonly #onStatus = (_: Kernel.IKernelConnection, status: KernelMessage.Status): void => {
    if (status === "restarting" || status === "autorestarting" || status === "dead") {
      // The connection disposes its comms on restart; a restarted kernel may accept the comm again.
      const hadComm = this.#comm !== undefined;
      this.#comm = undefined;
      this.#refused = false;
      if (hadComm) this.#events.lost();
    } else if (status === "idle" && this.#comm === undefined && this.#opening === undefined && !this.#disposed && !this.#notRingbook && !this.#refused) {
      this.#openLogged();
    }
  };
}
