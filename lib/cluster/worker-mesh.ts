/**
 * A worker's current peer mesh and its collectives, rebuilt for every membership generation the
 * owner announces (launch, restart, resize). Task code reaches the collectives as
 * `context.collectives`; a rank that died makes every pending collective of this generation fail.
 */
import { Collectives, PeerMesh } from "../collectives/index.js";
import { RingbookError } from "../errors.js";
import { PrivateDir } from "../transport/private-dir.js";
import { hasSharedMemoryDirectory, sharedMemoryDirectory } from "../collectives/host-shared-memory.js";
import type { LinkSecurity } from "../transport/link-security.js";
import { checkReachable } from "./endpoint-reachability.js";

/** See CollectivesOptions.minChunksPerSegment. */
const tcpMinChunksPerSegment = 4;

/** How long a rank tries to open a TCP connection to each peer before the mesh fails, naming where. */
const reachPeerTimeoutMs = 5000;

/** The mesh of one generation. */
interface Generation {
  generation: number;
  mesh: PeerMesh;
  collectives: Collectives;
  connected: boolean;
  /** Holds the ipc endpoint for the ranks of this host, when there are any. */
  localDir: PrivateDir | undefined;
}

export class WorkerMesh {
  readonly #rank: number;
  readonly #security: LinkSecurity;
  readonly #clusterId: string;
  readonly #log: (line: string) => void;
  #current: Generation | undefined;

  constructor(options: { rank: number; security: LinkSecurity; clusterId: string; log: (line: string) => void }) {
    this.#rank = options.rank;
    this.#security = options.security;
    this.#clusterId = options.clusterId;
    this.#log = options.log;
  }

  /**
   * Closes the previous generation's mesh and binds this one's; resolves with the endpoints to
   * announce. Over tcp, a rank that shares its host (`hosts[r]` names rank r's) also binds an ipc
   * endpoint in a private directory on this host, for those ranks.
   */
  async bind(generation: number, worldSize: number, bindAddress: string, hosts: readonly string[]): Promise<{ endpoint: string; localEndpoint: string | null }> {
    await this.close();
    const ownHost = hosts[this.#rank];
    const sharesHost = hosts.some((host, rank) => rank !== this.#rank && host === ownHost);
    const localDir = bindAddress.startsWith("tcp://") && sharesHost ? await PrivateDir.create("rbp-") : undefined;
    try {
      const mesh = await PeerMesh.bind({
        rank: this.#rank,
        worldSize,
        bindAddress,
        ...(localDir === undefined ? {} : { localBindAddress: localDir.endpoint(`peer-${this.#rank}`) }),
        ...(this.#security.mechanism === "curve" ? { curveKeys: this.#security.keys } : { password: this.#security.password }),
        zapDomain: `ringbook-${this.#clusterId}-mesh-${generation}`,
        log: this.#log,
      });
      // Over tcp (links between machines, with their latency) the ring cuts even small arrays into a few chunks per segment.
      // Every rank on this host (any local cluster, a one-node allocation): all-reduce through shared memory.
      const oneHost = worldSize > 1 && hosts.every((host) => host === ownHost);
      const sharedMemory = oneHost && hasSharedMemoryDirectory() ? { directory: sharedMemoryDirectory, prefix: `ringbook-${this.#clusterId}-mesh-${generation}`, log: this.#log } : undefined;
      const collectives = new Collectives(mesh, {
        hosts,
        ...(bindAddress.startsWith("tcp://") ? { minChunksPerSegment: tcpMinChunksPerSegment } : {}),
        ...(sharedMemory === undefined ? {} : { sharedMemory }),
      });
      this.#current = { generation, mesh, collectives, connected: false, localDir };
      return { endpoint: mesh.endpoint, localEndpoint: mesh.localEndpoint ?? null };
    } catch (error) {
      await localDir?.remove();
      throw error;
    }
  }

  /** Connects to every peer of `generation`. */
  async connect(generation: number, endpoints: readonly string[]): Promise<void> {
    const current = this.#expect(generation);
    // ZeroMQ retries an unreachable peer silently; a plain TCP connect first says which host, port
    // and interface failed instead of a 30 s timeout.
    await Promise.all(
      endpoints.map((endpoint, peer) =>
        peer === this.#rank ? undefined : checkReachable(endpoint, reachPeerTimeoutMs, { who: `peer rank ${peer}`, hint: `Rank ${this.#rank} needs every peer's address (its node's, from the launcher) to be reachable` }),
      ),
    );
    await current.mesh.connect(endpoints, { signal: AbortSignal.timeout(30_000) });
    current.connected = true;
  }

  /** The owner saw `rank` die: its pending and later messages fail with `reason`. */
  peerDied(generation: number, rank: number, reason: string): void {
    const current = this.#current;
    if (current === undefined || current.generation !== generation) return;
    current.mesh.failPeer(rank, new RingbookError("ERR_PEER_DIED", reason));
  }

  /** The collectives of the connected mesh. */
  get collectives(): Collectives {
    const current = this.#current;
    if (current === undefined || !current.connected) throw new RingbookError("ERR_NO_MESH", `rank ${this.#rank} is not connected to its peers (the cluster is still starting or changing size)`);
    return current.collectives;
  }

  /** Closes the mesh's sockets at once, for an exiting thread (see PeerMesh.closeNow). */
  closeNow(): void {
    this.#current?.mesh.closeNow();
    this.#current?.collectives.close();
    // The directory goes with the process (PrivateDir removes its own at exit).
    this.#current = undefined;
  }

  /**
   * Closes the mesh (idempotent). `leaving`: this rank alone goes away (a restart or a shrink), so
   * it says goodbye without waiting for goodbyes that will not come.
   */
  async close(options: { leaving?: boolean } = {}): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    await current?.mesh.close({ waitForGoodbyes: options.leaving !== true });
    current?.collectives.close();
    await current?.localDir?.remove();
  }

  #expect(generation: number): Generation {
    const current = this.#current;
    if (current === undefined || current.generation !== generation) {
      throw new RingbookError("ERR_MESH_GENERATION", `rank ${this.#rank} was asked to connect mesh generation ${generation}, but holds ${current?.generation ?? "none"}`);
    }
    return current;
  }
}
