/**
 * Who owns a test bed: the first file a bed writes into its state directory, before it creates
 * anything else. A bed whose owner process no longer runs is a leftover (its owner was SIGKILLed
 * or crashed) and may be removed by anyone.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { identityOf, isRunning, type ProcessIdentity } from "../../../lib/process/process-tree.js";
import { isJsonObject, quote } from "../../../lib/json-guards.js";

export interface BedOwnerRecord {
  bedId: string;
  /** The process that created the bed, by pid and start time (a reused pid is not the owner). */
  owner: ProcessIdentity;
}

/** The name prefix of a state directory still being made (left behind if its maker was killed then). */
export const unfinishedPrefix = ".new-";

function recordPath(stateDir: string): string {
  return join(stateDir, "owner.json");
}

/**
 * Creates the state directory of bed `bedId` with a record naming this process as its owner. The
 * directory appears complete or not at all (made under a temporary name, then renamed), so
 * `cleanupLeftovers()` never finds a live bed without its owner.
 */
export function createStateDir(bedsRoot: string, bedId: string): BedOwnerRecord {
  const owner = identityOf(process.pid);
  if (owner === undefined) throw new Error(`cannot read this process's own start time from /proc/${process.pid}/stat`);
  const record: BedOwnerRecord = { bedId, owner };
  mkdirSync(bedsRoot, { recursive: true });
  const temporary = mkdtempSync(join(bedsRoot, unfinishedPrefix));
  writeFileSync(recordPath(temporary), JSON.stringify(record));
  renameSync(temporary, join(bedsRoot, bedId));
  return record;
}

/** Parses an owner record; throws with the offending text where it is not one. */
export function parseOwnerRecord(text: string): BedOwnerRecord {
  const value: unknown = JSON.parse(text);
  if (isJsonObject(value) && typeof value.bedId === "string" && isJsonObject(value.owner)) {
    const { pid, startTicks } = value.owner;
    if (typeof pid === "number" && Number.isInteger(pid) && typeof startTicks === "number" && Number.isInteger(startTicks)) {
      return { bedId: value.bedId, owner: { pid, startTicks } };
    }
  }
  throw new Error(`not a test bed owner record: ${quote(text)}`);
}

/**
 * Reads the record of the bed in `stateDir`; undefined where there is none or it is unreadable.
 */
export function readOwnerRecord(stateDir: string): BedOwnerRecord | undefined {
  try {
    return parseOwnerRecord(readFileSync(recordPath(stateDir), "utf8"));
  } catch {
    return undefined;
  }
}

/** True while the bed's owner process still runs. */
export function ownerIsAlive(record: BedOwnerRecord): boolean {
  return isRunning(record.owner);
}
