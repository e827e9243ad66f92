/**
 * Connects a cluster to the notebook that runs it, through the notebook host (see
 * lib/notebook-host.ts; ringbook's kernel installs one, any host may). Without a host this does
 * nothing.
 * - Interrupt hooks: the notebook's interrupt also interrupts the workers.
 * - Cell magics: `%%workers [RANKS]` runs the cell on the workers of the most recently launched
 *   open cluster.
 * - Shutdown hooks: the host awaits them before it ends the thread that runs cells (kernel
 *   shutdown or restart), so a cluster a notebook left open is closed: its training runs stopped
 *   (their final state shown), its workers stopped and its socket directory removed.
 */
import { RingbookError } from "../errors.js";
import { notebookHost, type CellMagic } from "../notebook-host.js";
import type { Cluster } from "./cluster.js";

/** Open clusters, most recent last: `%%workers` uses the last. */
const openClusters: Cluster[] = [];

/** Parses `%%workers` arguments: nothing (all ranks), or ranks as `0,2` / `0 2` / `--ranks 0,2`. */
export function parseWorkersMagicArgs(args: string): number[] | undefined {
  const text = args.replace(/^--ranks[ =]?/, "").trim();
  if (text === "" || text === "all") return undefined;
  const ranks = text.split(/[\s,]+/).map(Number);
  if (ranks.some((rank) => !Number.isSafeInteger(rank) || rank < 0)) throw new RingbookError("ERR_BAD_MAGIC", `%%workers takes ranks such as "0,2" (or nothing for all), got ${JSON.stringify(args)}`);
  return ranks;
}

const workersMagic: CellMagic = async (args, body) => {
  const cluster = openClusters.at(-1);
  if (!cluster) throw new RingbookError("ERR_NO_CLUSTER", "%%workers needs a cluster: run `const cluster = await launchCluster({ workers: 2 })` first");
  const ranks = parseWorkersMagicArgs(args);
  const values = await cluster.runCell(body, ranks === undefined ? {} : { ranks });
  return values.every((value) => value === undefined) ? undefined : values;
};

const interruptAll = (): void => {
  for (const cluster of openClusters) cluster.interrupt();
};

/**
 * How long a training run in flight may take to stop at the host's shutdown before its cluster is
 * closed under it (it then ends as `failed:`). ringbook's kernel gives all its shutdown hooks 3.5 s,
 * and closing the workers needs the rest.
 */
const stopOnShutdownMs = 1500;

/**
 * Has the host close the cluster when it shuts down (until the cluster closes by itself). Training
 * runs in flight are stopped first, so that their live view ends on `stopped:` with its static
 * image before the host's last messages (see {@link Cluster.stopTraining}).
 */
export function closeOnHostShutdown(cluster: Cluster): void {
  const shutdownHooks = notebookHost()?.shutdownHooks;
  if (shutdownHooks === undefined) return;
  const closeOnShutdown = async (): Promise<void> => {
    await cluster.stopTraining({ signal: AbortSignal.timeout(stopOnShutdownMs) });
    await cluster.close();
  };
  shutdownHooks.add(closeOnShutdown);
  cluster.onClose(() => shutdownHooks.delete(closeOnShutdown));
}

/** Registers a ready cluster with the host's interrupt and `%%workers`, until it closes. */
export function attachToNotebookHost(cluster: Cluster): void {
  const host = notebookHost();
  const magics = host?.cellMagics;
  const hooks = host?.interruptHooks;
  openClusters.push(cluster);
  magics?.set("workers", workersMagic);
  hooks?.add(interruptAll);
  cluster.onClose(() => {
    openClusters.splice(openClusters.indexOf(cluster), 1);
    if (openClusters.length > 0) return;
    if (magics?.get("workers") === workersMagic) magics.delete("workers");
    hooks?.delete(interruptAll);
  });
}
