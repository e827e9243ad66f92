/**
 * A worker's first check on a tcp cluster: can it open a TCP connection to the owner's control
 * socket at all, and, at every new mesh, to its peers' sockets? ZeroMQ retries a refused or
 * unroutable connect silently forever, so without this a worker given an address its host cannot
 * reach (the owner bound to loopback, a wrong interface, a route missing between nodes) would sit
 * until a timeout with nothing said. This fails instead with the host, port and interface tried.
 */
import { connect } from "node:net";
import { hostname } from "node:os";
import { RingbookError } from "../errors.js";
import { interfaceTowards, readInterfaceTable } from "./network-interface.js";

/** The owner's control socket, or a peer's socket, could not be reached from this worker's host. */
export class EndpointUnreachableError extends RingbookError {
  constructor(message: string) {
    super("ERR_UNREACHABLE", message);
  }
}

/** Where a worker's connection goes, for messages: "the owner", "peer rank 2", ... */
export interface ReachTarget {
  who: string;
  /** What to do about it, appended to the message. */
  hint: string;
}

const ownerTarget: ReachTarget = { who: "the owner", hint: "The owner's address is its networkInterface option; choose one this host reaches" };

function tryConnect(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (failure: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(failure);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.once("connect", () => done(undefined));
    socket.once("error", (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}

/** Which interface of this host a connection to `address` leaves through, in words. */
function interfaceTried(address: string, who: string): string {
  try {
    const choice = interfaceTowards(address, who, readInterfaceTable());
    return `interface ${choice.interfaceName ?? "?"} (${choice.address})`;
  } catch {
    return "no interface with a route";
  }
}

/**
 * Resolves once `endpoint` ("tcp://host:port"; anything else needs no check) accepts a TCP
 * connection; tries again every 250 ms (sockets are bound before anyone is told where, so a
 * first failure is rarely transient) and rejects with {@link EndpointUnreachableError} after `timeoutMs`.
 */
export async function checkReachable(endpoint: string, timeoutMs: number, target: ReachTarget = ownerTarget): Promise<void> {
  const match = /^tcp:\/\/(.+):(\d+)$/.exec(endpoint);
  if (match === null) return;
  const host = match[1]!;
  const port = Number(match[2]);
  const deadline = performance.now() + timeoutMs;
  let failure: string | undefined;
  do {
    failure = await tryConnect(host, port, Math.max(1, Math.min(2000, deadline - performance.now())));
    if (failure === undefined) return;
    if (performance.now() + 250 >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  } while (performance.now() < deadline);
  throw new EndpointUnreachableError(`cannot reach ${target.who} at ${host} port ${port} from host ${hostname()} over ${interfaceTried(host, target.who)}: ${failure} (for ${timeoutMs} ms). ${target.hint}`);
}
