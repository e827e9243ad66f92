"""One kernel under measurement, for bench/kernel-driver.py (jupyter_client 7.4.9, blocking client)."""

import os
import signal
import sys
import time
import uuid

import zmq
from jupyter_client.manager import KernelManager

from kernel_proc import listening_tcp_ports, pid_alive, process_tree, start_ticks


def log(message):
    print(f"[kernel-driver] {message}", file=sys.stderr, flush=True)


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

    def open_diagnostics_comm(self, timeout_s):
        """Open ringbook's `ringbook.diagnostics` comm, as its JupyterLab extension does for a notebook.

        Returns the comm id, or None where the kernel does not serve it (it closes the comm, or
        says nothing within the timeout: other kernels ignore unknown comm targets).
        """
        comm_id = uuid.uuid4().hex
        msg = self.kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "ringbook.diagnostics", "data": {"protocol": 1}})
        self.kc.shell_channel.send(msg)
        # A served comm gets no answer to its open; a refused one gets a comm_close. Probe with one check.
        reply = self.check_as_typed(comm_id, "", 0, timeout_s)
        return comm_id if reply is not None else None

    def check_as_typed(self, comm_id, source, version, timeout_s):
        """Ask for `source`'s type errors on the diagnostics comm, as the extension does while a
        cell is edited; return the reply's data, or None when none came."""
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"type": "check", "cell": "bench", "version": version, "source": source}})
        self.kc.shell_channel.send(msg)
        deadline = time.perf_counter() + timeout_s
        answer = None
        idle = False
        while time.perf_counter() < deadline and (answer is None or not idle):
            try:
                got = self.kc.get_iopub_msg(timeout=max(0.001, deadline - time.perf_counter()))
            except Exception:  # queue.Empty
                break
            if got["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            if got["msg_type"] == "comm_close":
                return None
            if got["msg_type"] == "comm_msg" and got["content"].get("data", {}).get("version") == version:
                answer = got["content"]["data"]
            if got["msg_type"] == "status" and got["content"].get("execution_state") == "idle":
                idle = True
        return answer

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
