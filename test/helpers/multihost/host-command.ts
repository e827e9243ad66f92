/**
 * How a command runs "on" a bed host: in the host's network namespace, with the host's own
 * hostname (a private UTS namespace) and the bed's hosts file over /etc/hosts (a private mount
 * namespace). Not `ip netns exec`: it remounts /sys, which hides /sys/fs/cgroup, and slurmd 22.05
 * then dies ("Unable to initialize cgroup plugin"); `nsenter --net` keeps /sys as it is.
 */
import type { BedHost } from "./bed-layout.js";

/** A program and its arguments, ready for `spawn`. */
export interface CommandLine {
  command: string;
  args: string[];
}

// Arguments after the script: $0 is a placeholder, $1 the hostname, $2 the hosts file, then the
// command. `exec` keeps the pid: a daemon started this way has the pid its spawner saw.
const enterHostScript = 'hostname "$1" && mount --bind "$2" /etc/hosts && shift 2 && exec "$@"';

/** The command line that runs `command args` on `host` (as root). */
export function commandOnHost(host: BedHost, hostsFile: string, command: string, args: readonly string[]): CommandLine {
  return {
    command: "nsenter",
    args: [
      `--net=/run/netns/${host.namespace}`,
      "unshare", "--uts", "--mount", "--propagation", "private",
      "sh", "-c", enterHostScript, "sh", host.name, hostsFile,
      command, ...args,
    ],
  };
}
