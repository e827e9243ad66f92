/**
 * A multi-host test bed on one machine: N hosts as network namespaces with their own addresses
 * and hostnames on a bridge (in a namespace of its own), links shaped to a rate with tc tbf, and a
 * running Slurm (munged + slurmctld on a head host, one slurmd per host). Needs root and Debian's
 * `slurmd slurmctld slurm-client munge iproute2`; `bedPrerequisites()` says what is missing.
 *
 * Everything it makes carries its id (`rbtb` + 6 hex digits) and is removed by `close()`, by
 * SIGINT/SIGTERM of this process, on exit, and, after a SIGKILL, by the next `cleanupLeftovers()`
 * (which `start()` runs first).
 *
 * @example
 * ```ts
 * await using bed = await TestBed.start({ hosts: 4 });
 * const result = await bed.runSlurm("srun", ["-N4", "hostname"]);
 * ```
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runProcess, type ProcessResult } from "../run-process.js";
import { guardBed, unguardBed } from "./bed-exit-guard.js";
import { bedLayout, bedsRoot, hostsFileText, newBedId, type BedHost, type BedLayout } from "./bed-layout.js";
import { createBedNetwork, shapeHostLinks } from "./bed-network.js";
import { createStateDir } from "./bed-owner-record.js";
import { tearDownBed, type TeardownReport } from "./bed-teardown.js";
import { commandOnHost, type CommandLine } from "./host-command.js";
import { cleanupLeftovers } from "./leftover-beds.js";
import { BedSlurm, type BedDaemon } from "./slurm-daemons.js";

export interface TestBedOptions {
  /** Number of compute hosts (`host1` ... `hostN`, addresses 198.18.0.1 ... .N). */
  hosts: number;
  /** Rate of every compute host's link in both directions, Mbit/s; `null` leaves links unshaped. @default 1000 */
  linkRateMbitPerS?: number | null;
  /** MTU of every link, the head's included (veth and switch port). @default 1500 */
  mtu?: number;
  /** Start munged, slurmctld and the slurmd's. @default true */
  slurm?: boolean;
  /** CPUs each Slurm node offers (so tasks per host). @default 2 */
  cpusPerHost?: number;
  /** Bound on bringing the bed up, Slurm included. @default 60000 */
  startTimeoutMs?: number;
  signal?: AbortSignal;
}

/** Options of a command run on a bed host. */
export interface BedRunOptions {
  env?: NodeJS.ProcessEnv;
  /** @default 60000 */
  timeoutMs?: number;
  input?: string;
}

export class TestBed implements AsyncDisposable {
  readonly #layout: BedLayout;
  readonly #hostsFile: string;
  readonly #slurm: BedSlurm | undefined;
  /** Rate of the compute hosts' links, Mbit/s, or null where unshaped. */
  readonly linkRateMbitPerS: number | null;
  #teardown: TeardownReport | undefined;

  private constructor(layout: BedLayout, hostsFile: string, slurm: BedSlurm | undefined, linkRateMbitPerS: number | null) {
    this.#layout = layout;
    this.#hostsFile = hostsFile;
    this.#slurm = slurm;
    this.linkRateMbitPerS = linkRateMbitPerS;
  }

  /** Brings a bed up; on failure removes what it had made, then rethrows. */
  static async start(options: TestBedOptions): Promise<TestBed> {
    const linkRate = options.linkRateMbitPerS === undefined ? 1000 : options.linkRateMbitPerS;
    const layout = bedLayout(newBedId(), options.hosts);
    cleanupLeftovers();
    createStateDir(bedsRoot, layout.id);
    guardBed(layout.id, layout.stateDir);
    let slurm: BedSlurm | undefined;
    try {
      const hostsFile = join(layout.stateDir, "hosts");
      writeFileSync(hostsFile, hostsFileText(layout), { mode: 0o644 });
      await createBedNetwork(layout, options.mtu);
      if (linkRate !== null) await shapeHostLinks(layout, linkRate, options.mtu);
      if (options.slurm ?? true) {
        slurm = new BedSlurm(layout, hostsFile);
        await slurm.start({ cpusPerHost: options.cpusPerHost ?? 2, timeoutMs: options.startTimeoutMs ?? 60_000, ...(options.signal ? { signal: options.signal } : {}) });
      }
      return new TestBed(layout, hostsFile, slurm, linkRate);
    } catch (error) {
      slurm?.killSpawned();
      tearDownBed(layout.id, layout.stateDir);
      unguardBed(layout.id);
      throw error;
    }
  }

  /** The bed's id: the prefix of its namespaces and the name of its state directory. */
  get id(): string {
    return this.#layout.id;
  }

  get hosts(): readonly BedHost[] {
    return this.#layout.hosts;
  }

  /** The head host: slurmctld and Slurm's clients. Its link is never shaped. */
  get head(): BedHost {
    return this.#layout.head;
  }

  get switchNamespace(): string {
    return this.#layout.switchNamespace;
  }

  /** The bed's temporary directory (Slurm's configuration, state and logs). */
  get stateDir(): string {
    return this.#layout.stateDir;
  }

  /** The daemons the bed started (empty without Slurm). */
  get daemons(): BedDaemon[] {
    return this.#slurm?.daemons ?? [];
  }

  /** The compute host called `name`; throws naming the hosts there are. */
  host(name: string): BedHost {
    const host = this.hosts.find((candidate) => candidate.name === name);
    if (host === undefined) throw new Error(`no host ${JSON.stringify(name)} in bed ${this.id} (hosts: ${this.hosts.map((h) => h.name).join(", ")})`);
    return host;
  }

  /** The command line that runs `command args` on `host` (its namespace, hostname and /etc/hosts). */
  commandOn(host: BedHost, command: string, args: readonly string[]): CommandLine {
    this.#assertOpen();
    return commandOnHost(host, this.#hostsFile, command, args);
  }

  /** Environment for Slurm's clients: this process's, with the bed's `SLURM_CONF`. */
  slurmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    if (this.#slurm === undefined) throw new Error(`bed ${this.id} was started without Slurm`);
    return { ...this.#slurm.clientEnv(), ...extra };
  }

  /** Runs a command to completion on `host`; the bed's teardown stops it if it is still running. */
  run(host: BedHost, command: string, args: readonly string[], options: BedRunOptions = {}): Promise<ProcessResult> {
    const line = this.commandOn(host, command, args);
    return runProcess(line.command, line.args, { timeoutMs: options.timeoutMs ?? 60_000, ...(options.env ? { env: options.env } : {}), ...(options.input !== undefined ? { input: options.input } : {}) });
  }

  /** Runs a Slurm client (`srun`, `sinfo`, `scontrol`, ...) on the head, against this bed's Slurm. */
  runSlurm(command: string, args: readonly string[], options: BedRunOptions = {}): Promise<ProcessResult> {
    return this.run(this.head, command, args, { ...options, env: this.slurmEnv(options.env) });
  }

  /** Starts a long-running process on `host`; the caller awaits its exit (the teardown kills it at the latest). */
  spawnOn(host: BedHost, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const line = this.commandOn(host, command, args);
    return spawn(line.command, line.args, options);
  }

  /** How the last `close()` went (undefined while open). */
  get teardownReport(): TeardownReport | undefined {
    return this.#teardown;
  }

  /**
   * Stops every process in the bed's namespaces, deletes the namespaces (links and bridge with
   * them) and the state directory. Idempotent; throws if something could not be removed (it is
   * left for `cleanupLeftovers()`, since its owner then is gone).
   */
  async close(): Promise<void> {
    if (this.#teardown !== undefined) return;
    this.#teardown = tearDownBed(this.id, this.stateDir);
    this.#slurm?.killSpawned(); // none should be left: the teardown stopped them in their namespaces
    unguardBed(this.id);
    const { survivors, failedNamespaces } = this.#teardown;
    if (survivors.length > 0 || failedNamespaces.length > 0) {
      throw new Error(`bed ${this.id} not completely removed: processes still running ${JSON.stringify(survivors)}, namespaces ${JSON.stringify(failedNamespaces)}`);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(): void {
    if (this.#teardown !== undefined) throw new Error(`bed ${this.id} is closed`);
  }
}
