/** The default launcher: workers as child processes of the owner, on this machine. */
import { spawn, type ChildProcess } from "node:child_process";
import type { WorkerLauncher, WorkerStartRequest } from "./worker-launcher.js";

export class LocalLauncher implements WorkerLauncher {
  readonly kind = "local";

  start(request: WorkerStartRequest): ChildProcess {
    return spawn(request.command, request.args, {
      cwd: request.cwd,
      env: request.env,
      stdio: ["pipe", "pipe", "pipe"],
      // Same process group as the owner: a terminal's Ctrl-C reaches the owner, which decides.
      detached: false,
    });
  }

  peerBindHost(): undefined {
    return undefined;
  }

  describe(): string {
    return "local processes";
  }

  async close(): Promise<void> {
    // Nothing held: the workers are the pool's to stop.
  }
}
