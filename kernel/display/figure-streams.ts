/**
 * The kernel's end of live figure streams (see lib/plots/figure-stream.ts): ringbook's JupyterLab
 * extension opens a comm to target `ringbook.plotly` on each kernel connection of a notebook; the
 * kernel keeps the open ones and sends every figure delta on each. Comm messages go out on IOPub
 * in order with the display messages, so a delta always follows the figure it extends.
 */
import { figureStreamTarget, type FigureDelta } from "../../lib/plots/figure-stream.js";
import type { Comm, Comms, LiveDisplayHost } from "../../lib/notebook-host.js";
import { display } from "./index.js";

/** Version of the messages on the comm; the front end names the one it speaks when it opens. */
export const figureStreamProtocol = 1;

/** The open comms of front ends that apply figure deltas. */
export class FigureStreams {
  readonly #comms = new Set<Comm>();

  /** Serves the comm target on `comms`. */
  constructor(comms: Comms) {
    comms.registerTarget(figureStreamTarget, (comm, open) => {
      const version = open.data["protocol"];
      if (version !== figureStreamProtocol) {
        comm.close({ error: `ringbook's kernel speaks figure stream protocol ${figureStreamProtocol}, the front end asked for ${JSON.stringify(version)}` });
        return;
      }
      this.#comms.add(comm);
      comm.onClose(() => this.#comms.delete(comm));
    });
  }

  /** Front ends listening. */
  get listeners(): number {
    return this.#comms.size;
  }

  send(delta: FigureDelta): void {
    for (const comm of this.#comms) comm.send({ ...delta });
  }
}

/** The notebook host's live figures (see lib/notebook-host.ts): display handles and the figure streams. */
export function liveDisplayHost(streams: FigureStreams): LiveDisplayHost {
  return {
    create: () => display.create(),
    figureListeners: () => streams.listeners,
    sendFigureDelta: (delta) => streams.send(delta),
  };
}
