/**
 * Starts a bed's Slurm: munged and slurmctld on the head, one slurmd per host, each in the
 * foreground (`-F`/`-D`) as a direct child started through `commandOnHost`, so its pid is the
 * daemon's own and it lives in one of the bed's namespaces (the bed's teardown finds and stops it
 * there). Then waits until `sinfo` shows every node idle.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { runProcess } from "../run-process.js";
import type { BedHost, BedLayout } from "./bed-layout.js";
import { commandOnHost } from "./host-command.js";
import { slurmConfText, slurmPaths, type SlurmPaths } from "./slurm-config.js";

/** A daemon the bed started, with where its output goes. */
export interface BedDaemon {
  name: string;
  pid: number;
  logPath: string;
}

/** The binaries a bed needs (Debian: `slurmd slurmctld slurm-client munge iproute2`). */
export const requiredBinaries = ["munged", "mungekey", "slurmctld", "slurmd", "srun", "sinfo", "ip", "tc", "nsenter", "unshare"];

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted(): void {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", aborted, { once: true });
  });
}

/** The last lines of a log file, for error messages (empty where it does not exist). */
export function logTail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** A running bed Slurm: its daemons and the environment its clients need. */
export class BedSlurm {
  readonly paths: SlurmPaths;
  readonly #layout: BedLayout;
  readonly #hostsFile: string;
  readonly #daemons: Array<{ daemon: BedDaemon; child: ChildProcess }> = [];
  /** The first daemon that exited during start-up, with its status. */
  #earlyExit: string | undefined;

  constructor(layout: BedLayout, hostsFile: string) {
    this.#layout = layout;
    this.#hostsFile = hostsFile;
    this.paths = slurmPaths(layout.stateDir);
  }

  get daemons(): BedDaemon[] {
    return this.#daemons.map(({ daemon }) => daemon);
  }

  /** Environment for Slurm's clients (`srun`, `sinfo`, ...) run on the head. */
  clientEnv(): NodeJS.ProcessEnv {
    return { ...process.env, SLURM_CONF: this.paths.confPath };
  }

  /**
   * Writes the configuration, starts every daemon and waits until all nodes are idle. Throws
   * with the daemons' log tails if one exits or the nodes are not idle within `timeoutMs`; the
   * caller tears the bed down (which stops the daemons already started).
   */
  async start(options: { cpusPerHost: number; timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    const { paths } = this;
    const layout = this.#layout;
    // The munge socket's directory must be world-executable, its key's directory private.
    chmodSync(layout.stateDir, 0o755);
    mkdirSync(paths.mungeDir, { mode: 0o700 });
    mkdirSync(paths.ctldStateDir);
    for (const host of layout.hosts) mkdirSync(paths.spoolDir(host.name));
    writeFileSync(paths.confPath, slurmConfText(layout, paths, options.cpusPerHost));
    const keyPath = join(paths.mungeDir, "munge.key");
    const key = await runProcess("mungekey", ["-c", "-k", keyPath], { timeoutMs: 10_000 });
    if (key.code !== 0) throw new Error(`mungekey -c -k ${keyPath} failed: ${key.stderr.trim()}`);

    const deadline = AbortSignal.any([AbortSignal.timeout(options.timeoutMs), ...(options.signal ? [options.signal] : [])]);
    this.#spawnDaemon("munged", layout.head, "munged", [
      "-F", "-S", paths.mungeSocket, `--key-file=${keyPath}`, `--pid-file=${join(paths.mungeDir, "munged.pid")}`,
      `--log-file=${join(paths.mungeDir, "munged.log")}`, `--seed-file=${join(paths.mungeDir, "munged.seed")}`,
    ]);
    await this.#waitFor("munged's socket", () => Promise.resolve(existsSync(paths.mungeSocket)), deadline);
    // -c: a clean start, no state from an earlier bed; -i: ignore state it cannot read.
    this.#spawnDaemon("slurmctld", layout.head, "slurmctld", ["-D", "-c", "-i", "-f", paths.confPath]);
    for (const host of layout.hosts) this.#spawnDaemon(`slurmd ${host.name}`, host, "slurmd", ["-D", "-f", paths.confPath]);
    await this.#waitFor(`${layout.hosts.length} idle nodes in sinfo`, async () => (await this.idleNodeCount()) >= layout.hosts.length, deadline);
  }

  /**
   * SIGKILLs every daemon this object spawned that has not exited, by the pid of its child (the
   * same pid from nsenter to the daemon, since each step execs the next). The bed's teardown
   * finds processes by namespace, which misses one still entering it: a failed start calls this
   * first, or a munged started a moment before would outlive the bed.
   */
  killSpawned(): void {
    for (const { child } of this.#daemons) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  }

  /** How many nodes `sinfo` shows idle (0 while slurmctld does not answer yet). */
  async idleNodeCount(): Promise<number> {
    const { command, args } = commandOnHost(this.#layout.head, this.#hostsFile, "sinfo", ["-h", "-t", "idle", "-o", "%D"]);
    const result = await runProcess(command, args, { env: this.clientEnv(), timeoutMs: 10_000 });
    return result.code === 0 ? Number(result.stdout.trim().split("\n")[0]) || 0 : 0;
  }

  #spawnDaemon(name: string, host: BedHost, program: string, args: string[]): void {
    const logPath = join(this.#layout.stateDir, `${program}-${host.name}.out`);
    const out = openSync(logPath, "a");
    const { command, args: fullArgs } = commandOnHost(host, this.#hostsFile, program, args);
    // Own process group: a Ctrl-C in the terminal reaches the test process, whose handler tears
    // the bed down, not the daemons one by one in the middle of it.
    const child = spawn(command, fullArgs, { env: { ...process.env, SLURM_CONF: this.paths.confPath }, stdio: ["ignore", out, out], detached: true });
    closeSync(out);
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${name} (${program}) on ${host.name}`);
    child.once("exit", (code, signal) => {
      this.#earlyExit ??= `${name} exited with ${code ?? signal}`;
    });
    this.#daemons.push({ daemon: { name, pid: child.pid, logPath }, child });
  }

  async #waitFor(what: string, condition: () => Promise<boolean>, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (this.#earlyExit !== undefined) throw new Error(`${this.#earlyExit} while waiting for ${what}\n${this.#logs()}`);
      if (await condition()) return;
      try {
        await sleep(100, signal);
      } catch (cause) {
        throw new Error(`no ${what} in the bed ${this.#layout.id} (${signal.reason instanceof Error ? signal.reason.message : "aborted"})\n${this.#logs()}`, { cause });
      }
    }
  }

  /** The tails of every daemon's output and Slurm's own logs, for an error message. */
  #logs(): string {
    const dir = this.#layout.stateDir;
    const files = [...this.daemons.map((daemon) => daemon.logPath), join(dir, "slurmctld.log"), ...this.#layout.hosts.map((host) => join(dir, `slurmd-${host.name}.log`))];
    return files.map((file) => [file, logTail(file)] as const).filter(([, tail]) => tail !== "").map(([file, tail]) => `--- ${file}\n${tail}`).join("\n");
  }
}
