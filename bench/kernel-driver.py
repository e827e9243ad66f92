#!/usr/bin/python3
"""Measure Jupyter kernels through jupyter_client (Debian's 7.4.9) and print JSON on stdout.

Run with /usr/bin/python3. For each kernelspec name given with --kernel (one or more), measures:

- start: KernelManager.start_kernel() until the first kernel_info_reply, over --starts fresh starts;
- round trip of a trivial cell (``1+1``) and of a cell declaring a NEW typed function each time,
  from sending execute_request until both the execute_reply AND the idle status for that request
  have arrived, over --cells cells of each kind;
- RSS (and peak RSS) of the kernel's process tree after all cells, summed over /proc;
- lost replies / idle statuses (none should be lost) and error replies.

With several kernels, the work is interleaved so that machine noise hits all of them alike: start
rounds go round-robin over the kernels (rotating the order each round), then one session per kernel
is opened and cells are sent round-robin, one cell per kernel in turn.

Every kernel PID is appended to --pid-log as soon as it is known, so that the orchestrator can kill
leftovers even if this driver itself is killed. SIGTERM/SIGINT shut every kernel down.
Progress and diagnostics go to stderr; the final JSON document goes to stdout or --output. (Kernels
inherit the driver's stdout: a reader waiting for stdout to close would wait for them too.)
"""

import argparse
import json
import os
import signal
import statistics
import sys
import time
import uuid

import zmq
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

SCHEMA = "ringbook-kernel-bench/1"


class Interrupted(Exception):
    """Raised from the signal handler so that cleanup runs in `finally` blocks."""


def on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


def log(message):
    print(f"[kernel-driver] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- process tree via /proc


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


# ---------------------------------------------------------------- statistics


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), int(-(-fraction * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


def summarize_ms(samples_s):
    values = sorted(s * 1000 for s in samples_s)
    if not values:
        return {"n": 0, "p50Ms": None, "p99Ms": None, "minMs": None, "maxMs": None}
    return {
        "n": len(values),
        "p50Ms": round(statistics.median(values), 3),
        "p99Ms": round(percentile(values, 0.99), 3),
        "minMs": round(values[0], 3),
        "maxMs": round(values[-1], 3),
    }


# ---------------------------------------------------------------- one kernel


class Kernel:
    """One started kernel with a blocking client; close() is idempotent and kills the tree."""

    def __init__(self, name, pid_log):
        self.name = name
        self.pid_log = pid_log
        self.km = None
        self.kc = None
        self.pid = None
        self.known_pids = {}  # pid -> start ticks
        self.abandoned = set()  # msg_ids we stopped waiting for
        self.late_messages = 0  # messages for abandoned requests that arrived later
        self.closed = False

    def record_pids(self):
        if self.pid is None:
            return
        new = [p for p in process_tree(self.pid) if p not in self.known_pids]
        if new:
            with open(self.pid_log, "a") as f:
                for p in new:
                    self.known_pids[p] = start_ticks(p)
                    f.write(f"{p} {self.known_pids[p]}\n")

    def start(self, timeout_s):
        """Start the kernel; return seconds from start_kernel() to the first kernel_info_reply."""
        # Connection files go to the (private) runtime dir instead of /tmp.
        runtime_dir = os.environ.get("JUPYTER_RUNTIME_DIR") or None
        connection_file = os.path.join(runtime_dir, f"kernel-{uuid.uuid4()}.json") if runtime_dir else ""
        self.km = KernelManager(kernel_name=self.name, connection_file=connection_file)
        t0 = time.perf_counter()
        self.km.start_kernel()
        self.pid = self.km.provisioner.process.pid
        self.record_pids()
        deadline = t0 + timeout_s
        self.wait_until_listening(deadline)
        self.kc = self.km.client()
        self.kc.start_channels()
        sent = {self.kc.kernel_info()}
        # A kernel may drop a request that arrives before its sockets are ready: resend each second.
        next_resend = time.perf_counter() + 1.0
        while True:
            now = time.perf_counter()
            if now >= deadline:
                raise TimeoutError(f"{self.name}: no kernel_info_reply within {timeout_s} s of start_kernel()")
            if not self.km.is_alive():
                raise RuntimeError(f"{self.name}: kernel process {self.pid} exited during startup")
            if now >= next_resend:
                sent.add(self.kc.kernel_info())
                next_resend = now + 1.0
            try:
                msg = self.kc.get_shell_msg(timeout=min(0.1, deadline - now))
            except Exception:  # queue.Empty from the blocking channel
                continue
            if msg["msg_type"] == "kernel_info_reply" and msg["parent_header"].get("msg_id") in sent:
                elapsed = time.perf_counter() - t0
                self.info = msg["content"]
                self.kernel_info_requests = len(sent)
                self.record_pids()
                return elapsed

    def wait_until_listening(self, deadline):
        """Wait until the kernel listens on all five ports before connecting to any of them.

        Connecting earlier (as jupyter_client does) lets a reconnecting client socket pick the very
        port it is connecting to as its own source port (TCP self-connect): the port is then taken
        and the kernel's bind fails with EADDRINUSE (seen with tslab here). Polling costs at most a
        few milliseconds of the measured start, alike for every kernel.
        """
        wanted = {
            "shell": self.km.shell_port,
            "iopub": self.km.iopub_port,
            "stdin": self.km.stdin_port,
            "control": self.km.control_port,
            "hb": self.km.hb_port,
        }
        while True:
            listening = listening_tcp_ports()
            missing = {name: port for name, port in wanted.items() if port not in listening}
            if not missing:
                return
            if not self.km.is_alive():
                raise RuntimeError(f"{self.name}: kernel process {self.pid} exited before listening on {missing}")
            if time.perf_counter() >= deadline:
                raise TimeoutError(f"{self.name}: kernel never listened on {missing}")
            time.sleep(0.002)

    def connect_iopub(self, timeout_s):
        """Make sure our IOPub subscription is live before timing cells.

        A kernel_info_reply proves the shell socket works, but the SUB socket may connect a moment
        later ("slow joiner") and then the first cell's idle status is simply never delivered. Most
        kernels publish busy/idle for kernel_info: send it until something arrives on IOPub. tslab
        publishes nothing for kernel_info, so fall back to an empty execute_request.
        Returns how the subscription was confirmed.
        """
        deadline = time.perf_counter() + timeout_s
        fallback_at = time.perf_counter() + min(3.0, timeout_s / 2)
        method = "kernel_info"
        while time.perf_counter() < deadline:
            if not self.km.is_alive():
                raise RuntimeError(f"{self.name}: kernel process {self.pid} exited before IOPub delivered anything")
            if method == "kernel_info" and time.perf_counter() >= fallback_at:
                method = "empty execute"
            if method == "kernel_info":
                self.kc.kernel_info()
            else:
                self.kc.execute("", store_history=False)
            try:
                self.kc.get_iopub_msg(timeout=0.25)
            except Exception:  # queue.Empty: nothing yet
                continue
            # Let the rest of that request's messages arrive, then start from a clean slate.
            time.sleep(0.2)
            self.drain_iopub()
            while True:
                try:
                    self.kc.get_shell_msg(timeout=0)
                except Exception:
                    break
            return method
        raise TimeoutError(f"{self.name}: nothing ever arrived on IOPub within {timeout_s} s")

    def drain_iopub(self):
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0)
            except Exception:
                return

    def execute(self, code, reply_timeout_s, idle_grace_s):
        """Send one execute_request; return a dict with seconds until reply AND idle, or what was lost."""
        shell = self.kc.shell_channel
        iopub = self.kc.iopub_channel
        poller = zmq.Poller()
        poller.register(shell.socket, zmq.POLLIN)
        poller.register(iopub.socket, zmq.POLLIN)
        t0 = time.perf_counter()
        msg_id = self.kc.execute(code, store_history=True)
        reply = None
        idle = False
        deadline = t0 + reply_timeout_s
        while reply is None or not idle:
            now = time.perf_counter()
            if now >= deadline:
                break
            events = dict(poller.poll(timeout=max(1, int((deadline - now) * 1000))))
            if shell.socket in events:
                msg = self.kc.get_shell_msg(timeout=0)
                parent = msg["parent_header"].get("msg_id")
                if parent == msg_id and msg["msg_type"] == "execute_reply":
                    reply = msg
                    # Once the reply is in, the idle status should follow closely.
                    deadline = min(deadline, time.perf_counter() + idle_grace_s)
                elif parent in self.abandoned:
                    self.late_messages += 1
            if iopub.socket in events:
                msg = self.kc.get_iopub_msg(timeout=0)
                parent = msg["parent_header"].get("msg_id")
                if (
                    parent == msg_id
                    and msg["msg_type"] == "status"
                    and msg["content"].get("execution_state") == "idle"
                ):
                    idle = True
                    if reply is None:
                        deadline = min(deadline, time.perf_counter() + idle_grace_s)
                elif parent in self.abandoned:
                    self.late_messages += 1
        elapsed = time.perf_counter() - t0
        if reply is None or not idle:
            self.abandoned.add(msg_id)
        status = reply["content"].get("status") if reply is not None else None
        error = None
        if status is not None and status != "ok":
            content = reply["content"]
            error = f"{content.get('ename', '?')}: {content.get('evalue', '')}"[:300]
        return {"seconds": elapsed, "reply": reply is not None, "idle": idle, "status": status, "error": error}

    def close(self, timeout_s=10.0):
        if self.closed:
            return
        self.closed = True
        if self.pid is not None:
            self.record_pids()
        try:
            if self.kc is not None:
                self.kc.stop_channels()
        except Exception as e:  # noqa: BLE001 - cleanup must go on
            log(f"{self.name}: stop_channels failed: {e!r}")
        try:
            if self.km is not None and self.km.has_kernel:
                self.km.shutdown_kernel(now=False)
        except Exception as e:  # noqa: BLE001
            log(f"{self.name}: shutdown_kernel failed: {e!r}")
        # Whatever survived (children re-parented, a kernel ignoring shutdown): kill by PID.
        deadline = time.perf_counter() + timeout_s
        for pid, ticks in sorted(self.known_pids.items()):
            if pid_alive(pid) and start_ticks(pid) == ticks:
                try:
                    os.kill(pid, signal.SIGKILL)
                    log(f"{self.name}: killed leftover pid {pid}")
                except ProcessLookupError:
                    pass
        while time.perf_counter() < deadline and any(pid_alive(p) and start_ticks(p) == t for p, t in self.known_pids.items()):
            time.sleep(0.05)
        try:
            if self.km is not None:
                self.km.cleanup_resources()
        except Exception:  # noqa: BLE001
            pass


# ---------------------------------------------------------------- cells


def trivial_cell(language, _index):
    return "1+1"


def function_cell(language, index):
    if language == "python":
        return f"def f_{index}(a: float, b: float) -> float:\n    return a * b + {index}"
    return f"function f_{index}(a: number, b: number): number {{ return a * b + {index} }}"


def describe_spec(name):
    spec = KernelSpecManager().get_kernel_spec(name)
    return {"resourceDir": spec.resource_dir, "argv": spec.argv, "language": spec.language}


def rotated(items, shift):
    shift %= len(items)
    return items[shift:] + items[:shift]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", action="append", required=True, help="kernelspec name (repeatable)")
    ap.add_argument("--language", action="append", default=[], help="NAME=python|typescript (default: the spec's)")
    ap.add_argument("--starts", type=int, default=5, help="fresh starts per kernel for the startup time")
    ap.add_argument("--cells", type=int, default=200, help="cells of each kind per kernel")
    ap.add_argument("--start-timeout", type=float, default=60.0)
    ap.add_argument("--reply-timeout", type=float, default=30.0)
    ap.add_argument("--idle-grace", type=float, default=2.0, help="seconds to wait for idle after reply (and back)")
    ap.add_argument("--pid-log", required=True, help="file to append every kernel PID (and start time) to")
    ap.add_argument("--output", help="write the JSON here instead of stdout (kernels inherit stdout)")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    names = args.kernel
    languages = {}
    for item in args.language:
        name, _, lang = item.partition("=")
        languages[name] = lang
    results = {}
    for name in names:
        spec = describe_spec(name)
        languages.setdefault(name, "python" if spec["language"] == "python" else "typescript")
        results[name] = {"spec": spec, "language": languages[name], "startSeconds": [], "startFailures": [], "errors": []}

    live = []
    try:
        # Startup: round-robin fresh starts, rotating the order each round. A failed start is
        # recorded (and shown), not retried.
        for round_index in range(args.starts):
            for name in rotated(names, round_index):
                kernel = Kernel(name, args.pid_log)
                live.append(kernel)
                try:
                    results[name]["startSeconds"].append(kernel.start(args.start_timeout))
                except (TimeoutError, RuntimeError) as e:
                    results[name]["startFailures"].append(str(e))
                    log(f"start failed: {e}")
                finally:
                    kernel.close()
                    live.remove(kernel)
            log(f"start round {round_index + 1}/{args.starts} done")

        # Cells: one session per kernel, one cell per kernel in turn.
        sessions = {}
        for name in names:
            kernel = Kernel(name, args.pid_log)
            live.append(kernel)
            try:
                kernel.start(args.start_timeout)
                results[name]["iopubConfirmedBy"] = kernel.connect_iopub(args.start_timeout)
            except (TimeoutError, RuntimeError) as e:
                results[name]["failure"] = f"session start failed: {e}"
                log(results[name]["failure"])
                kernel.close()
                live.remove(kernel)
                continue
            sessions[name] = kernel
            results[name]["kernelInfo"] = {
                "implementation": kernel.info.get("implementation"),
                "implementationVersion": kernel.info.get("implementation_version"),
                "language": (kernel.info.get("language_info") or {}).get("name"),
                "languageVersion": (kernel.info.get("language_info") or {}).get("version"),
            }
            results[name]["memoryAfterStart"] = tree_memory(kernel.pid)
        kinds = {"trivial": trivial_cell, "function": function_cell}
        samples = {name: {kind: [] for kind in kinds} for name in names}
        lost = {name: {"replies": 0, "idle": 0, "cells": []} for name in names}
        error_replies = {name: 0 for name in names}
        # Cell numbers offset so that names never collide with anything the kernel defines itself.
        for index in range(args.cells):
            for kind, make in kinds.items():
                for name in rotated(names, index):
                    kernel = sessions.get(name)
                    if kernel is None:
                        continue
                    outcome = kernel.execute(make(languages[name], 1000 + index), args.reply_timeout, args.idle_grace)
                    if not outcome["reply"]:
                        lost[name]["replies"] += 1
                    if not outcome["idle"]:
                        lost[name]["idle"] += 1
                    if not (outcome["reply"] and outcome["idle"]) and len(lost[name]["cells"]) < 10:
                        lost[name]["cells"].append(f"{kind} #{index}: reply={outcome['reply']} idle={outcome['idle']}")
                    if outcome["reply"] and outcome["idle"]:
                        samples[name][kind].append(outcome["seconds"])
                    if outcome["error"] is not None:
                        error_replies[name] += 1
                        if len(results[name]["errors"]) < 5:
                            results[name]["errors"].append(outcome["error"])
                    if not outcome["reply"] and not kernel.km.is_alive():
                        results[name]["failure"] = f"kernel died during {kind} cell #{index}"
                        log(results[name]["failure"])
                        del sessions[name]
                        kernel.close()
                        live.remove(kernel)
            if (index + 1) % 50 == 0:
                log(f"cells {index + 1}/{args.cells} of each kind done")
        for name, kernel in sessions.items():
            results[name]["memoryAfterCells"] = tree_memory(kernel.pid)
            results[name]["cellsRun"] = 2 * args.cells
            results[name]["trivialCell"] = summarize_ms(samples[name]["trivial"])
            results[name]["functionCell"] = summarize_ms(samples[name]["function"])
            results[name]["firstTrivialMs"] = round(samples[name]["trivial"][0] * 1000, 3) if samples[name]["trivial"] else None
            results[name]["lostReplies"] = lost[name]["replies"]
            results[name]["lostIdle"] = lost[name]["idle"]
            results[name]["lostCells"] = lost[name]["cells"]
            results[name]["lateMessages"] = kernel.late_messages
            results[name]["errorReplies"] = error_replies[name]
        for name in names:
            starts = results[name]["startSeconds"]
            results[name]["start"] = {
                "n": len(starts),
                "p50Ms": round(statistics.median(starts) * 1000, 1) if starts else None,
                "maxMs": round(max(starts) * 1000, 1) if starts else None,
                "minMs": round(min(starts) * 1000, 1) if starts else None,
            }
            del results[name]["startSeconds"]
        document = json.dumps({"schema": SCHEMA, "starts": args.starts, "cells": args.cells, "kernels": results})
        if args.output:
            with open(args.output, "w") as f:
                f.write(document)
        else:
            print(document)
        return 0
    except Interrupted as e:
        log(f"interrupted ({e}); shutting kernels down")
        return 130
    finally:
        # Ignore further signals while cleaning up, so a second Ctrl-C cannot leave orphans behind.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for kernel in list(live):
            kernel.close()


if __name__ == "__main__":
    sys.exit(main())
