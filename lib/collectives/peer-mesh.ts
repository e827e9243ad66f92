/**
 * The connections between one rank and every other rank of a cluster, over ZeroMQ. Each rank binds
 * one ROUTER socket that receives from all peers, and connects one DEALER socket to every peer's
 * ROUTER (whose routing id names the sending rank). Every connection is authenticated once, at the
 * ZMTP handshake, through ZAP: with CURVE keys (tcp: every frame also encrypted, so nobody on the
 * network reads a gradient) or with PLAIN against the cluster's socket password (ipc, in a private
 * directory): a process without them never gets a message in. There is deliberately no per-message
 * HMAC on this data plane: HMAC-SHA256
 * runs at ~1.5–2 GB/s per core on these machines (2.0 GB/s measured over 64 MiB), no faster than
 * the transfer itself, so signing and checking every byte on both sides would about halve an
 * all-reduce's bandwidth, while the per-connection check already keeps strangers out.
 *
 * Collectives run one at a time, in call order, each with the next operation sequence number
 * (like MPI and NCCL, every rank must call the same collectives in the same order). Messages are
 * taken from the ROUTER only when an operation asks for one; a message from a rank other than
 * the one asked for waits in that rank's stash. The stash holds at most what peers can send before
 * they need this rank's data, which the collectives bound by the size of one operation.
 *
 * Failure is final: a lost connection (a peer died), {@link PeerMesh.failPeer}, an aborted or
 * mismatched operation, or close make every pending and later operation reject; the cluster builds
 * a new mesh after restarting its workers.
 */
import { rmSync } from "node:fs";
import { unlink } from "node:fs/promises";
import * as zmq from "zeromq";
import { RingbookError } from "../errors.js";
import type { CurveKeys } from "../transport/curve-keys.js";
import { clientSocketOptions, registerLinkDomain, serverSocketOptions, type LinkSecurity } from "../transport/link-security.js";
import type { ZapRegistration } from "../transport/zap-authenticator.js";
import { floatsOf, bytesOf } from "./float-frames.js";
import { describeHeader, encodeHeader, type CollectiveHeader, type CollectiveKind, type FrameHeader } from "./frame-header.js";
import { matchExpected, parsePeerMessage, routingIdOf, type PeerMessage } from "./mesh-messages.js";
import { MeshChanges, untilDeadline } from "./mesh-waits.js";
import { ReceivedBufferCollector } from "./received-buffer-collector.js";

/** Options of {@link PeerMesh.bind}. */
export interface PeerMeshOptions {
  rank: number;
  worldSize: number;
  /** Where this rank binds its receiving socket, e.g. `"ipc:///tmp/rb-x/peer-0"` or `"tcp://127.0.0.1:*"` (give the host: `tcp://*:…` listens on every interface). */
  bindAddress: string;
  /**
   * A second address the same socket binds, for the peers on this rank's host: an ipc endpoint in
   * a private directory there, so traffic between ranks of one host skips the TCP stack. Peers on
   * other hosts connect to `bindAddress`. @default none
   */
  localBindAddress?: string;
  /**
   * ZeroMQ PLAIN password ({@link ClusterSecret.socketPassword}): connections are authenticated,
   * not encrypted. Give this or {@link PeerMeshOptions.curveKeys}; either way every connection is
   * checked by the thread's ZapAuthenticator.
   */
  password?: string;
  /** The cluster's CURVE keys: every connection encrypted, and admitted only with the cluster's client key. */
  curveKeys?: CurveKeys;
  /** The ZAP domain (the cluster id); one mesh per domain per thread. */
  zapDomain: string;
  /** Receives a line for each notable event (refused connections, failures, close). @default no logging */
  log?: (line: string) => void;
  /** Fail the mesh as soon as the connection to a peer drops without a goodbye. @default true */
  watchPeers?: boolean;
  /**
   * ZeroMQ high-water mark, in messages, of each outgoing and incoming pipe: with 1 MiB chunks, at
   * most ~8 MiB queued per connection. Deeper queues (8, 16) measured no faster, nor did larger
   * kernel socket buffers (1–4 MiB SO_SNDBUF/SO_RCVBUF on the ipc sockets).
   * @default 4
   */
  highWaterMark?: number;
  /** How long {@link PeerMesh.close} waits for the peers' goodbyes. @default 2000 */
  closeTimeoutMs?: number;
}

/** A received message: its checked header and its float32 values (the caller's to change). */
export interface ReceivedFrame {
  header: CollectiveHeader;
  values: Float32Array;
}

/** One collective's access to the mesh, given to the body of {@link PeerMesh.run}. */
export interface MeshOperation {
  readonly kind: CollectiveKind;
  readonly sequence: number;
  readonly rank: number;
  readonly worldSize: number;
  /** Sends `values` (never change them afterwards: ZeroMQ sends from their memory) to rank `to`. One send per peer at a time. */
  send(to: number, fields: { step: number; chunk: number; total: number }, values?: Float32Array): Promise<void>;
  /** The next message from rank `from`, checked against what the operation expects. */
  receive(from: number, expected: { step: number; chunk: number; count?: number; total?: number }): Promise<ReceivedFrame>;
  /** Hands a task of this operation (a send or receive loop) to the mesh, which awaits it in close. */
  own(task: Promise<unknown>): void;
}

interface Peer {
  readonly rank: number;
  dealer: zmq.Dealer | undefined;
  /** Messages received before an operation asked for them, in arrival order. */
  readonly stash: PeerMessage[];
  handshaken: boolean;
  sending: boolean;
  saidBye: boolean;
  /** Its connection dropped, or the owner declared it failed. */
  lost: boolean;
}

type MeshState = "bound" | "connecting" | "connected" | "closed";

const emptyFrame = Buffer.alloc(0);
const noop = (): void => {};

/**
 * libzmq leaves the file of an ipc endpoint behind when the socket closes (it removes only the
 * files of wildcard endpoints it named itself), so the mesh removes its own.
 */
async function removeSocketFile(endpoint: string, log: (line: string) => void): Promise<void> {
  if (!endpoint.startsWith("ipc://") || endpoint.startsWith("ipc://@")) return;
  try {
    await unlink(endpoint.slice("ipc://".length));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") log(`could not remove the socket file of ${endpoint}: ${asError(error).message}`);
  }
}

/** The mesh's link security: exactly one of a PLAIN password and CURVE keys. */
function meshLinkSecurity(options: PeerMeshOptions): LinkSecurity {
  const { password, curveKeys } = options;
  if (curveKeys !== undefined && password === undefined) return { mechanism: "curve", keys: curveKeys };
  if (typeof password === "string" && password.length > 0 && curveKeys === undefined) return { mechanism: "plain", password };
  throw new RingbookError("ERR_BAD_ARGUMENT", `PeerMesh needs exactly one of a non-empty password and curveKeys, got ${password === undefined ? "no password" : `a password (${typeof password})`} and ${curveKeys === undefined ? "no keys" : "keys"}`);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** A rank's ZeroMQ connections to every other rank. Create with {@link PeerMesh.bind}, then {@link PeerMesh.connect}. */
export class PeerMesh {
  readonly rank: number;
  readonly worldSize: number;
  /** The bound address (tcp port resolved) to hand to the other ranks. */
  readonly endpoint: string;
  /** The bound {@link PeerMeshOptions.localBindAddress}, for the peers on this rank's host. */
  readonly localEndpoint: string | undefined;
  readonly #router: zmq.Router;
  readonly #registration: ZapRegistration;
  readonly #options: PeerMeshOptions;
  readonly #security: LinkSecurity;
  readonly #log: (line: string) => void;
  readonly #peers: Peer[];
  readonly #changes = new MeshChanges();
  readonly #failureListeners = new Set<(error: Error) => void>();
  readonly #owned = new Set<Promise<void>>();
  #state: MeshState = "bound";
  #failure: Error | undefined;
  #operations = 0;
  #queue: Promise<void> = Promise.resolve();
  #current: string | undefined;
  #pendingFrames: Promise<Buffer[]> | undefined;
  #closed: Promise<void> | undefined;
  readonly #receivedBuffers = new ReceivedBufferCollector();

  private constructor(options: PeerMeshOptions, security: LinkSecurity, router: zmq.Router, registration: ZapRegistration, endpoint: string) {
    this.rank = options.rank;
    this.worldSize = options.worldSize;
    this.#options = options;
    this.#security = security;
    this.#log = options.log ?? noop;
    this.#router = router;
    this.#registration = registration;
    this.endpoint = endpoint;
    this.localEndpoint = options.localBindAddress;
    this.#peers = Array.from({ length: options.worldSize }, (_, rank) => ({ rank, dealer: undefined, stash: [], handshaken: false, sending: false, saidBye: false, lost: false }));
  }

  /**
   * Registers the ZAP domain and binds this rank's receiving socket; a failed start closes what it
   * opened. Example: `const mesh = await PeerMesh.bind({ rank, worldSize, bindAddress: dir.endpoint(`peer-${rank}`), password: secret.socketPassword, zapDomain: clusterId })`.
   */
  static async bind(options: PeerMeshOptions): Promise<PeerMesh> {
    const { rank, worldSize, bindAddress } = options;
    if (!Number.isInteger(worldSize) || worldSize < 1) throw new RingbookError("ERR_BAD_WORLD", `worldSize must be a positive integer, got ${String(worldSize)}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new RingbookError("ERR_BAD_RANK", `rank must be an integer in [0, ${worldSize}), got ${String(rank)}`);
    for (const [name, value] of [["zapDomain", options.zapDomain], ["bindAddress", bindAddress]] as const) {
      if (typeof value !== "string" || value.length === 0) throw new RingbookError("ERR_BAD_ARGUMENT", `PeerMesh ${name} must be a non-empty string, got ${typeof value}`);
    }
    const localBindAddress = options.localBindAddress;
    if (localBindAddress !== undefined && (typeof localBindAddress !== "string" || !localBindAddress.startsWith("ipc://"))) {
      throw new RingbookError("ERR_BAD_ARGUMENT", `PeerMesh localBindAddress must be an ipc:// endpoint, got ${JSON.stringify(localBindAddress)}`);
    }
    const security = meshLinkSecurity(options);
    const registration = await registerLinkDomain(security, options.zapDomain, options.log ?? noop);
    let router: zmq.Router | undefined;
    try {
      router = new zmq.Router({ linger: 0, receiveHighWaterMark: options.highWaterMark ?? 4, ...serverSocketOptions(security, options.zapDomain) });
      await router.bind(bindAddress);
      // Read before a second bind, which would become the last endpoint.
      const endpoint = router.lastEndpoint ?? bindAddress;
      if (localBindAddress !== undefined) await router.bind(localBindAddress);
      return new PeerMesh(options, security, router, registration, endpoint);
    } catch (error) {
      router?.close();
      if (localBindAddress !== undefined) await removeSocketFile(localBindAddress, options.log ?? noop);
      await registration.release();
      throw new RingbookError("ERR_MESH_BIND", `rank ${rank} could not bind its peer socket at ${bindAddress}: ${asError(error).message}`, { cause: error });
    }
  }

  /**
   * Connects to every peer (`endpoints[r]` is rank r's {@link PeerMesh.endpoint}, or its
   * {@link PeerMesh.localEndpoint} for a peer on the same host) and resolves once
   * this rank has greeted every peer, been greeted by each, and completed the authenticated
   * handshake of each outgoing connection: no collective starts before all ranks are reachable.
   */
  async connect(endpoints: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state !== "bound") throw new RingbookError("ERR_MESH_STATE", `rank ${this.rank}: connect() needs a freshly bound mesh; this one is ${this.#state}`);
    if (!Array.isArray(endpoints) || endpoints.length !== this.worldSize || endpoints.some((e) => typeof e !== "string")) {
      throw new RingbookError("ERR_BAD_ENDPOINTS", `rank ${this.rank}: expected ${this.worldSize} endpoint strings, got ${JSON.stringify(endpoints)}`);
    }
    if (endpoints[this.rank] !== this.endpoint && endpoints[this.rank] !== this.localEndpoint) {
      const bound = [this.endpoint, ...(this.localEndpoint === undefined ? [] : [this.localEndpoint])];
      throw new RingbookError("ERR_BAD_ENDPOINTS", `rank ${this.rank}: endpoints[${this.rank}] is ${JSON.stringify(endpoints[this.rank])}, but this rank is bound at ${bound.map((e) => JSON.stringify(e)).join(" and ")}`);
    }
    this.#state = "connecting";
    const signal = options.signal;
    const others = this.#peers.filter((peer) => peer.rank !== this.rank);
    try {
      for (const peer of others) {
        const dealer = new zmq.Dealer({ linger: 0, routingId: routingIdOf(this.rank), sendHighWaterMark: this.#options.highWaterMark ?? 4, ...clientSocketOptions(this.#security) });
        peer.dealer = dealer;
        this.#own(this.#watch(peer, dealer));
        dealer.connect(endpoints[peer.rank]!);
      }
      // A hello names its destination and the world size, so a crossed endpoint list is caught.
      const hello = (to: number): FrameHeader => ({ kind: "hello", source: this.rank, destination: to, worldSize: this.worldSize });
      await this.#guard(Promise.all(others.map((peer) => this.#send(peer.rank, hello(peer.rank)))), signal, "connect");
      for (const peer of others) {
        const { header } = await this.#receive(peer.rank, signal, "connect");
        if (header.kind !== "hello" || header.destination !== this.rank || header.worldSize !== this.worldSize) {
          throw new RingbookError("ERR_BAD_HELLO", `rank ${this.rank} (world ${this.worldSize}) expected a hello addressed to it from rank ${peer.rank}, got ${describeHeader(header)}`);
        }
      }
      while (others.some((peer) => !peer.handshaken)) await this.#guard(this.#changes.next(), signal, "connect");
      this.#state = "connected";
      this.#log(`rank ${this.rank}: connected to ${others.length} peer(s)`);
    } catch (error) {
      throw this.#fail(asError(error));
    }
  }

  /**
   * Runs `body` as the next collective (one at a time, in call order, with the next sequence number).
   * If it fails or is aborted, the mesh fails with that error: the ranks no longer agree on where
   * the collective stopped.
   */
  run<T>(kind: CollectiveKind, options: { signal?: AbortSignal }, body: (operation: MeshOperation) => Promise<T>): Promise<T> {
    if (this.#state === "closed") return Promise.reject(new RingbookError("ERR_MESH_CLOSED", `rank ${this.rank}: ${kind} called on a closed mesh`));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#state !== "connected") return Promise.reject(new RingbookError("ERR_MESH_STATE", `rank ${this.rank}: ${kind} needs a connected mesh (await connect() first); this one is ${this.#state}`));
    const sequence = ++this.#operations;
    const previous = this.#queue;
    let release = noop;
    this.#queue = new Promise<void>((resolve) => (release = resolve));
    return this.#runInTurn(previous, kind, sequence, options.signal, body).finally(release);
  }

  async #runInTurn<T>(previous: Promise<void>, kind: CollectiveKind, sequence: number, signal: AbortSignal | undefined, body: (operation: MeshOperation) => Promise<T>): Promise<T> {
    const what = `${kind} #${sequence}`;
    try {
      await this.#guard(previous, signal, what);
      this.#current = what;
      const work = body(this.#operation(kind, sequence, signal));
      this.#own(work);
      return await this.#guard(work, signal, what);
    } catch (error) {
      throw this.#fail(asError(error));
    } finally {
      if (this.#current === what) this.#current = undefined;
    }
  }

  /** The owner says rank `rank` died: every pending and later operation rejects with `error`. */
  failPeer(rank: number, error: Error): void {
    const peer = this.#peerAt(rank, "failPeer");
    peer.lost = true;
    this.#changes.notify();
    this.#log(`rank ${this.rank}: the owner failed rank ${rank}: ${error.message}`);
    this.#fail(error);
  }

  /**
   * Says goodbye to every peer and waits (up to `closeTimeoutMs`) for theirs, so that no peer
   * mistakes this rank's leaving for a death; then closes the sockets, removes the ipc socket file
   * and releases the ZAP domain. Pending operations reject. Idempotent. `waitForGoodbyes: false`
   * when this rank leaves alone and the others stay (theirs would never come).
   */
  close(options: { waitForGoodbyes?: boolean } = {}): Promise<void> {
    return (this.#closed ??= this.#close(options.waitForGoodbyes ?? true));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Closes every socket synchronously, without goodbyes, for a thread or process that is about to
   * exit: zeromq.js aborts the whole process when a thread is torn down with sockets still open.
   * Peers see a lost connection. The ZAP registration is left to ZapAuthenticator.closeNow().
   */
  closeNow(): void {
    if (this.#state === "closed" && this.#router.closed) return;
    this.#state = "closed";
    this.#fail(new RingbookError("ERR_MESH_CLOSED", `rank ${this.rank}: the mesh was closed because its thread is exiting`));
    for (const peer of this.#peers) {
      // The socket monitor is a socket of its own. Closed after its socket, it throws from native
      // code (the thread aborts); before it, it may keep the socket's descriptors open (see
      // #close), which does not matter to a thread that is exiting.
      peer.dealer?.events.close();
      peer.dealer?.close();
    }
    this.#router.close();
    for (const endpoint of [this.endpoint, this.localEndpoint]) {
      if (endpoint?.startsWith("ipc://") === true && !endpoint.startsWith("ipc://@")) rmSync(endpoint.slice("ipc://".length), { force: true });
    }
  }

  /** Counters for tests: nothing should accumulate between operations. */
  get diagnostics(): { state: MeshState; failed: boolean; operations: number; stashedMessages: number; ownedTasks: number } {
    return {
      state: this.#state,
      failed: this.#failure !== undefined,
      operations: this.#operations,
      stashedMessages: this.#peers.reduce((sum, peer) => sum + peer.stash.length, 0),
      ownedTasks: this.#owned.size,
    };
  }

  async #close(waitForGoodbyes: boolean): Promise<void> {
    const wasConnected = this.#state === "connected";
    const healthy = waitForGoodbyes && this.#failure === undefined && this.#current === undefined;
    this.#state = "closed";
    const inFlight = this.#current;
    this.#fail(new RingbookError("ERR_MESH_CLOSED", inFlight === undefined ? `rank ${this.rank}: the mesh is closed` : `rank ${this.rank}: the mesh was closed while ${inFlight} was in flight`));
    // A failed mesh still says goodbye (so peers fail fast rather than wait) but waits for none:
    // its peers have failed too, or will when they see the goodbye.
    if (wasConnected) await this.#sayGoodbye(healthy);
    for (const peer of this.#peers) {
      // Not the monitor first (as closeNow does): closed before its socket, a monitor kept the
      // socket's descriptors open, a few per mesh rebuild (the soak test saw it).
      peer.dealer?.close();
      peer.stash.length = 0;
    }
    this.#router.close();
    await removeSocketFile(this.endpoint, this.#log);
    if (this.localEndpoint !== undefined) await removeSocketFile(this.localEndpoint, this.#log);
    await Promise.all(this.#owned);
    await this.#registration.release();
    this.#log(`rank ${this.rank}: mesh closed after ${this.#operations} operation(s)`);
  }

  async #sayGoodbye(waitForPeers: boolean): Promise<void> {
    const deadline = Date.now() + (this.#options.closeTimeoutMs ?? 2000);
    const bye: FrameHeader = { kind: "bye", source: this.rank, operations: this.#operations };
    // A goodbye queues behind everything already sent to that peer, so it arrives last. A peer
    // whose pipe is still blocked by a failed operation gets none: it will see a disconnect.
    const greeted = this.#peers.filter((peer) => peer.dealer !== undefined && !peer.sending && !peer.lost);
    const sends = greeted.map((peer) => this.#send(peer.rank, bye).catch((error: unknown) => this.#log(`rank ${this.rank}: goodbye to rank ${peer.rank} failed: ${asError(error).message}`)));
    await untilDeadline(Promise.all(sends), deadline);
    if (!waitForPeers) return;
    const waiting = (): Peer[] => this.#peers.filter((peer) => peer.dealer !== undefined && !peer.saidBye && !peer.lost);
    while (waiting().length > 0) {
      const next = await untilDeadline(Promise.race([this.#nextFrames(), this.#changes.next()]), deadline);
      if (next === "timeout") {
        this.#log(`rank ${this.rank}: closing without goodbyes from rank(s) ${waiting().map((peer) => peer.rank).join(", ")}`);
        return;
      }
      if (next === undefined) continue; // a peer was lost
      this.#pendingFrames = undefined;
      try {
        this.#dispatch(next);
      } catch (error) {
        this.#log(`rank ${this.rank}: ignored while closing: ${asError(error).message}`);
      }
    }
  }

  #operation(kind: CollectiveKind, sequence: number, signal: AbortSignal | undefined): MeshOperation {
    const what = `${kind} #${sequence}`;
    return {
      kind,
      sequence,
      rank: this.rank,
      worldSize: this.worldSize,
      send: (to, fields, values) => {
        this.#peerAt(to, what);
        return this.#send(to, { kind, dtype: values === undefined ? "none" : "float32", source: this.rank, sequence, ...fields, count: values?.length ?? 0 }, values);
      },
      receive: async (from, expected) => {
        this.#peerAt(from, what);
        const { header, payload } = await this.#receive(from, signal, what);
        const match = matchExpected(header, { kind, sequence, ...expected }, from);
        if (!match.ok) throw new RingbookError("ERR_COLLECTIVE_MISMATCH", `rank ${this.rank} ${match.reason}`);
        return { header: match.header, values: floatsOf(payload) };
      },
      own: (task) => this.#own(task),
    };
  }

  async #send(to: number, header: FrameHeader, values?: Float32Array): Promise<void> {
    const peer = this.#peerAt(to, header.kind);
    if (peer.dealer === undefined) throw new RingbookError("ERR_MESH_STATE", `rank ${this.rank}: no connection to rank ${to} yet`);
    if (peer.sending) throw new RingbookError("ERR_MESH_BUSY", `rank ${this.rank}: a send to rank ${to} is already pending (one at a time per peer)`);
    peer.sending = true;
    try {
      await peer.dealer.send([encodeHeader(header), values === undefined ? emptyFrame : bytesOf(values)]);
    } finally {
      peer.sending = false;
    }
  }

  async #receive(from: number, signal: AbortSignal | undefined, what: string): Promise<PeerMessage> {
    const peer = this.#peerAt(from, what);
    for (;;) {
      const stashed = peer.stash.shift();
      if (stashed !== undefined) return stashed;
      if (peer.saidBye) throw new RingbookError("ERR_PEER_CLOSED", `rank ${this.rank}: ${what} needs a message from rank ${from}, but rank ${from} has closed its mesh`);
      const frames = await this.#guard(this.#nextFrames(), signal, what);
      this.#pendingFrames = undefined;
      this.#dispatch(frames);
    }
  }

  /** The ROUTER's next message; one receive at a time, kept across a receive that lost a race. */
  #nextFrames(): Promise<Buffer[]> {
    if (this.#pendingFrames === undefined) {
      this.#pendingFrames = this.#router.receive();
      this.#pendingFrames.catch(noop); // rejects when the socket closes; whoever awaits it sees that
    }
    return this.#pendingFrames;
  }

  /** Checks a raw message and stashes it for its sender (or records a goodbye). */
  #dispatch(frames: Buffer[]): void {
    this.#receivedBuffers.received(frames[2]?.byteLength ?? 0);
    const parsed = parsePeerMessage(frames, this.rank, this.worldSize);
    if (!parsed.ok) {
      const where = this.#current === undefined ? "" : ` in ${this.#current}`;
      throw new RingbookError("ERR_BAD_FRAME", `rank ${this.rank}${where}: refused a message from connection ${JSON.stringify(parsed.connection)}: ${parsed.reason}`);
    }
    const { from, header } = parsed.message;
    const peer = this.#peers[from]!;
    if (header.kind === "bye") {
      peer.saidBye = true;
      this.#changes.notify();
      this.#log(`rank ${this.rank}: rank ${from} said goodbye after ${header.operations} operation(s)`);
      return;
    }
    peer.stash.push(parsed.message);
  }

  async #watch(peer: Peer, dealer: zmq.Dealer): Promise<void> {
    try {
      for await (const event of dealer.events) this.#onEvent(peer, event);
    } catch (error) {
      if (!dealer.closed) this.#log(`rank ${this.rank}: stopped watching the connection to rank ${peer.rank}: ${asError(error).message}`);
    }
  }

  #onEvent(peer: Peer, event: zmq.Event): void {
    const closing = this.#state === "closed";
    switch (event.type) {
      case "handshake":
        peer.handshaken = true;
        this.#changes.notify();
        return;
      case "handshake:error:auth":
      case "handshake:error:protocol":
      case "handshake:error:other":
        if (closing) return;
        this.#fail(new RingbookError("ERR_PEER_HANDSHAKE", `rank ${this.rank}: rank ${peer.rank} at ${event.address} refused this rank's connection (${event.type}: ${event.error.message}); do the ranks share the cluster secret and ZAP domain?`));
        return;
      case "disconnect": {
        if (!peer.handshaken) return; // not connected yet: ZeroMQ retries
        peer.lost = true;
        this.#changes.notify();
        if (closing || peer.saidBye || this.#options.watchPeers === false) return;
        const when = this.#current === undefined ? "between operations" : `during ${this.#current}`;
        this.#fail(new RingbookError("ERR_PEER_LOST", `rank ${this.rank}: lost the connection to rank ${peer.rank} (${event.address}) ${when}: rank ${peer.rank} died or left without saying goodbye`));
        return;
      }
      default:
        return;
    }
  }

  /** Races `task` against the mesh failing and `signal` aborting (either fails the mesh). */
  #guard<T>(task: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#failure !== undefined) return reject(this.#failure);
      const aborted = (): RingbookError =>
        new RingbookError("ERR_ABORTED", `rank ${this.rank}: ${what} was aborted (${asError(signal?.reason).message}); the mesh is unusable now, as the ranks no longer agree on where it stopped`, { cause: signal?.reason });
      if (signal?.aborted) return reject(aborted());
      const cleanup = (): void => {
        this.#failureListeners.delete(onFailure);
        signal?.removeEventListener("abort", onAbort);
      };
      const onFailure = (error: Error): void => {
        cleanup();
        reject(error);
      };
      const onAbort = (): void => {
        cleanup();
        reject(aborted());
      };
      this.#failureListeners.add(onFailure);
      signal?.addEventListener("abort", onAbort, { once: true });
      task.then(
        (value) => {
          cleanup();
          resolve(value);
        },
        (error: unknown) => {
          cleanup();
          reject(error);
        },
      );
    });
  }

  /** Records the first failure and wakes every guarded wait; returns the first failure. */
  #fail(error: Error): Error {
    if (this.#failure !== undefined) return this.#failure;
    this.#failure = error;
    if (!(error instanceof RingbookError && error.code === "ERR_MESH_CLOSED")) this.#log(`rank ${this.rank}: mesh failed: ${error.message}`);
    for (const listener of [...this.#failureListeners]) listener(error);
    return error;
  }

  #own(task: Promise<unknown>): void {
    const settled: Promise<void> = task.then(noop, noop).finally(() => this.#owned.delete(settled));
    this.#owned.add(settled);
  }

  #peerAt(rank: number, what: string): Peer {
    const peer = Number.isInteger(rank) && rank !== this.rank ? this.#peers[rank] : undefined;
    if (peer === undefined) throw new RingbookError("ERR_BAD_RANK", `rank ${this.rank}: ${what} named rank ${String(rank)}, not a peer in a world of ${this.worldSize}`);
    return peer;
  }
}
