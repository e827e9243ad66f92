/**
 * A process that brings up a test bed and then just waits, so a test can SIGKILL it and check
 * that `cleanupLeftovers()` removes the bed it could not close. Prints one JSON line once the bed
 * is up: {id, stateDir, daemonPids}. Usage: bed-owner-fixture.js HOSTS
 */
import { TestBed } from "./test-bed.js";

const hosts = Number(process.argv[2] ?? "2");
const bed = await TestBed.start({ hosts, linkRateMbitPerS: null });
process.stdout.write(`${JSON.stringify({ id: bed.id, stateDir: bed.stateDir, daemonPids: bed.daemons.map((daemon) => daemon.pid) })}\n`);
// Wait for the end: SIGKILL in the test; SIGTERM or SIGINT would tear the bed down properly.
setInterval(() => undefined, 60_000);
