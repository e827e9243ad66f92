/**
 * Removes what crashed runs left: beds whose owner process is gone (SIGKILLed tests, a killed
 * CI job), namespaces with a bed's id but no state directory (a teardown interrupted half-way),
 * and state directories abandoned while being made. Beds of live owners, in this process or in
 * any other, are never touched.
 */
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { bedIdOfNamespace, bedsRoot, isBedId } from "./bed-layout.js";
import { ownerIsAlive, readOwnerRecord, unfinishedPrefix } from "./bed-owner-record.js";
import { listBedNamespaces, tearDownBed, type TeardownReport } from "./bed-teardown.js";

/** How old an unfinished state directory must be before it counts as abandoned. */
const unfinishedAgeMs = 60_000;

function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Tears down every leftover bed; returns one report per bed removed. */
export function cleanupLeftovers(root = bedsRoot): TeardownReport[] {
  const reports: TeardownReport[] = [];
  const entries = entriesOf(root);
  for (const name of entries) {
    const dir = join(root, name);
    if (name.startsWith(unfinishedPrefix)) {
      try {
        if (Date.now() - statSync(dir).mtimeMs > unfinishedAgeMs) rmSync(dir, { recursive: true, force: true });
      } catch {
        // Renamed into place or removed meanwhile.
      }
      continue;
    }
    if (!isBedId(name)) continue;
    const record = readOwnerRecord(dir);
    // No readable record in a finished directory: nobody can own it (records are written first).
    if (record !== undefined && ownerIsAlive(record)) continue;
    reports.push(tearDownBed(name, dir));
  }
  // A bed's namespaces exist only while its state directory does, except after an interrupted
  // teardown (which removes the directory last, so this only meets a dead bed's namespaces).
  const namespaceIds = new Set(listBedNamespaces().map(bedIdOfNamespace));
  const dirs = new Set(entriesOf(root));
  for (const id of namespaceIds) if (id !== undefined && !dirs.has(id)) reports.push(tearDownBed(id, join(root, id)));
  return reports;
}
