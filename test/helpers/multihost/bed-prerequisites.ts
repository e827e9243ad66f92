/**
 * Whether this machine can run a test bed: root (namespaces, tc, daemons) and the binaries of
 * Debian's `slurmd slurmctld slurm-client munge iproute2` (plus util-linux's nsenter/unshare).
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { requiredBinaries } from "./slurm-daemons.js";

function onPath(binary: string): boolean {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin"];
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why a bed cannot run here, or undefined where it can (for `describe(..., { skip })`). */
export function bedSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "the multi-host test bed needs root (network namespaces, tc, Slurm daemons)";
  const missing = requiredBinaries.filter((binary) => !onPath(binary));
  if (missing.length > 0) return `the multi-host test bed needs ${missing.join(", ")} (Debian: apt-get install slurmd slurmctld slurm-client munge iproute2)`;
  return namespacesRefused();
}

/** Root in a container may still be refused network namespaces: try one, named for this process. */
function namespacesRefused(): string | undefined {
  const probe = `rbprobe-${process.pid}`;
  const added = spawnSync("ip", ["netns", "add", probe], { encoding: "utf8" });
  if (added.status !== 0) return `this machine refuses network namespaces (ip netns add: ${added.stderr.trim() || `exit ${added.status}`})`;
  spawnSync("ip", ["netns", "delete", probe]);
  return undefined;
}
