/**
 * The last line of defence for beds this process still has open when it ends: on SIGINT or
 * SIGTERM it tears them down and then dies of the same signal; on `exit` (a test that forgot
 * `close()`, `process.exit()`) it tears them down too. Only SIGKILL gets past it, and for that
 * there is `cleanupLeftovers()`.
 */
import { tearDownBed } from "./bed-teardown.js";

const openBeds = new Map<string, string>();
const signals = ["SIGINT", "SIGTERM"] as const;

function tearDownAll(): void {
  for (const [bedId, stateDir] of openBeds) {
    tearDownBed(bedId, stateDir);
    openBeds.delete(bedId);
  }
}

function onSignal(signal: NodeJS.Signals): void {
  tearDownAll();
  uninstall();
  // Die of the signal as if nobody had handled it, so the parent sees what happened.
  process.kill(process.pid, signal);
}

function onExit(): void {
  tearDownAll();
}

function install(): void {
  for (const signal of signals) process.on(signal, onSignal);
  process.on("exit", onExit);
}

function uninstall(): void {
  for (const signal of signals) process.off(signal, onSignal);
  process.off("exit", onExit);
}

/** Registers an open bed (before it creates anything); the first one installs the handlers. */
export function guardBed(bedId: string, stateDir: string): void {
  if (openBeds.size === 0) install();
  openBeds.set(bedId, stateDir);
}

/** Unregisters a closed bed; the last one removes the handlers, so an idle process keeps Node's defaults. */
export function unguardBed(bedId: string): void {
  if (!openBeds.delete(bedId)) return;
  if (openBeds.size === 0) uninstall();
}
