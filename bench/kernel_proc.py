"""/proc helpers for bench/kernel-driver.py: process trees, their memory, listening TCP ports."""

import os


def read_children_map():
    """Map ppid -> [pid] for every live process."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "r") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        ppid = int(fields[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def start_ticks(pid):
    """Field 22 of /proc/<pid>/stat: with the PID, it names one process even if the PID is reused."""
    try:
        with open(f"/proc/{pid}/stat", "r") as f:
            stat = f.read()
    except OSError:
        return 0
    return int(stat[stat.rfind(")") + 2 :].split()[19])


def process_tree(root_pid):
    """root_pid and all its live descendants."""
    children = read_children_map()
    tree, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def memory_kib(pid):
    """(VmRSS, VmHWM) in KiB of one process, or (0, 0) if it is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", "r") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def tree_memory(root_pid):
    pids = process_tree(root_pid)
    rss = hwm = 0
    for pid in pids:
        r, h = memory_kib(pid)
        rss += r
        hwm += h
    return {
        "pids": pids,
        "rssMiB": round(rss / 1024, 1),
        "peakRssMiB": round(hwm / 1024, 1),
    }


def pid_alive(pid):
    """True while the process exists and is not a zombie (an unreaped zombie holds no memory)."""
    try:
        with open(f"/proc/{pid}/status", "r") as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except OSError:
        return False
    return False


def listening_tcp_ports():
    """Ports in LISTEN state on this machine (IPv4 and IPv6), from /proc/net/tcp*."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, "r") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A":
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports
