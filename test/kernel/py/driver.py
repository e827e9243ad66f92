"""Drives a ringbook kernel with jupyter_client, as Jupyter front ends do.

Usage: /usr/bin/python3 driver.py SCENARIO KERNEL_NAME
The kernelspec KERNEL_NAME must be findable through JUPYTER_PATH. Each scenario starts its own
kernel with a KernelManager, asserts, prints one JSON line of measurements, and always shuts the
kernel down (killing it if a clean shutdown fails). Exit status 0 means every assertion held.
"""

import json
import os
import queue
import signal
import sys
import time

import zmq
from jupyter_client.manager import KernelManager

TIMEOUT = 10


def announce(process):
    """Tells the Node test the kernel's PID, so it can kill the kernel if this driver dies."""
    print("KERNEL_PID %d" % process.pid, file=sys.stderr, flush=True)


class Kernel:
    """A started kernel, its process and a blocking client."""

    def __init__(self, name):
        self.km = KernelManager(kernel_name=name)
        self.km.start_kernel()
        self.process = self.km.provisioner.process
        announce(self.process)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=TIMEOUT)

    def close(self):
        self.kc.stop_channels()
        if self.km.is_alive():
            try:
                self.km.shutdown_kernel(now=False)
            except Exception:
                self.km.shutdown_kernel(now=True)

    # ---- helpers ----

    def iopub_for(self, msg_id, until_idle=True, timeout=TIMEOUT):
        """iopub messages whose parent is msg_id, up to and including its idle status."""
        messages = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(msg)
            if until_idle and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return messages

    def shell_reply(self, msg_id, timeout=TIMEOUT):
        while True:
            msg = self.kc.get_shell_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def run(self, code, **kwargs):
        msg_id = self.kc.execute(code, **kwargs)
        reply = self.shell_reply(msg_id)
        return reply, self.iopub_for(msg_id)


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def types(messages):
    return [m["msg_type"] if m["msg_type"] != "status" else "status:" + m["content"]["execution_state"] for m in messages]


# ---- scenarios ----


def scenario_kernel_info(k):
    msg_id = k.kc.kernel_info()
    reply = k.shell_reply(msg_id)
    content = reply["content"]
    check(reply["msg_type"] == "kernel_info_reply", reply["msg_type"])
    check(content["status"] == "ok", content)
    check(content["implementation"] == "ringbook", content)
    check(content["protocol_version"] == "5.3", content)
    info = content["language_info"]
    check(info["name"] == "typescript" and info["file_extension"] == ".ts" and info["mimetype"] == "text/typescript", info)
    check(info["codemirror_mode"] == "typescript" and info["pygments_lexer"] == "typescript", info)
    check(isinstance(content["banner"], str) and content["help_links"], content)
    check(reply["header"]["session"] == reply["parent_header"]["session"], "reply keeps the request's session")
    iopub = k.iopub_for(msg_id)
    check(types(iopub) == ["status:busy", "status:idle"], types(iopub))
    return {"version": info["version"]}


def scenario_execute(k):
    reply, iopub = k.run("1+1")
    check(types(iopub) == ["status:busy", "execute_input", "execute_result", "status:idle"], types(iopub))
    check(reply["content"]["status"] == "ok" and reply["content"]["execution_count"] == 1, reply["content"])
    check(iopub[1]["content"] == {"code": "1+1", "execution_count": 1}, iopub[1]["content"])
    check(iopub[2]["content"]["data"]["text/plain"] == "2" and iopub[2]["content"]["execution_count"] == 1, iopub[2]["content"])
    check(all(m["parent_header"]["msg_id"] == reply["parent_header"]["msg_id"] for m in iopub), "iopub parents")

    reply, iopub = k.run("var x = 40; x + 2")
    check(reply["content"]["execution_count"] == 2, reply["content"])
    reply, iopub = k.run("x", silent=True)
    check(types(iopub) == ["status:busy", "status:idle"], "silent: " + str(types(iopub)))
    check(reply["content"]["execution_count"] == 2, "silent does not count")
    reply, iopub = k.run("x", store_history=False)
    check(reply["content"]["execution_count"] == 2, "store_history=False does not count")
    check("execute_result" in types(iopub), types(iopub))

    reply, iopub = k.run("print('hi'); eprint('oops')")
    streams = [(m["content"]["name"], m["content"]["text"]) for m in iopub if m["msg_type"] == "stream"]
    check(streams == [("stdout", "hi\n"), ("stderr", "oops\n")], streams)

    reply, iopub = k.run("x + 1", user_expressions={"double": "x * 2", "bad": "nope.nope"})
    expressions = reply["content"]["user_expressions"]
    check(expressions["double"] == {"status": "ok", "data": {"text/plain": "80"}, "metadata": {}}, expressions)
    check(expressions["bad"]["status"] == "error" and expressions["bad"]["ename"] == "ReferenceError", expressions)

    reply, iopub = k.run("throw new TypeError('bad thing')")
    check(reply["content"]["status"] == "error" and reply["content"]["ename"] == "TypeError", reply["content"])
    check(reply["content"]["evalue"] == "bad thing", reply["content"])
    check(types(iopub) == ["status:busy", "execute_input", "error", "status:idle"], types(iopub))

    reply, iopub = k.run("display({'text/plain': 'a', 'text/html': '<b>a</b>'}, 'd1'); updateDisplay({'text/plain': 'b'}, 'd1'); clear(true)")
    check(types(iopub)[2:5] == ["display_data", "update_display_data", "clear_output"], types(iopub))
    check(iopub[2]["content"]["transient"] == {"display_id": "d1"} and len(iopub[2]["content"]["data"]) == 2, iopub[2]["content"])

    # Output that arrives after the reply still carries its own cell's parent.
    late_id = k.kc.execute("later('late', 150); failLater('late failure', 200); 'now'")
    k.shell_reply(late_id)
    k.iopub_for(late_id)
    late = []
    deadline = time.monotonic() + 3
    while len(late) < 2 and time.monotonic() < deadline:
        msg = k.kc.get_iopub_msg(timeout=3)
        if msg["parent_header"].get("msg_id") == late_id:
            late.append(msg)
    check([m["msg_type"] for m in late] == ["stream", "error"], types(late))
    check(late[0]["content"]["text"] == "late\n" and late[1]["content"]["evalue"] == "late failure", late)

    reply, iopub = k.run("restartExecutor()")
    check(reply["content"]["status"] == "error" and reply["content"]["ename"] == "ExecutorRestarted", reply["content"])

    msg_id = k.kc.complete("pri", 3)
    content = k.shell_reply(msg_id)["content"]
    check(content["status"] == "ok" and "print" in content["matches"] and content["cursor_start"] == 0 and content["cursor_end"] == 3, content)
    check(any(t["text"] == "print" for t in content["metadata"]["_jupyter_types_experimental"]), content)
    msg_id = k.kc.inspect("print", 2)
    content = k.shell_reply(msg_id)["content"]
    check(content["status"] == "ok" and content["found"] is True and "print" in content["data"]["text/plain"], content)
    msg_id = k.kc.is_complete("function f() {")
    content = k.shell_reply(msg_id)["content"]
    check(content["status"] == "incomplete" and "indent" in content, content)
    msg_id = k.kc.is_complete("1 +* 2")
    check(k.shell_reply(msg_id)["content"]["status"] == "invalid", "invalid code")
    return {}


def scenario_stop_on_error(k):
    first = k.kc.execute("await sleep(300); throw new Error('first fails')")
    queued = [k.kc.execute("print('must not run')") for _ in range(3)]
    info = k.kc.kernel_info()
    replies = {}
    while len(replies) < 5:
        msg = k.kc.get_shell_msg(timeout=TIMEOUT)
        replies[msg["parent_header"]["msg_id"]] = msg
    check(replies[first]["content"]["status"] == "error", replies[first]["content"])
    for msg_id in queued:
        check(replies[msg_id]["content"]["status"] == "aborted", replies[msg_id]["content"])
    check(replies[info]["content"]["status"] == "ok", "kernel_info in the queue runs normally")
    # Every aborted request still gets busy/idle.
    for msg_id in queued:
        check(types(k.iopub_for(msg_id)) == ["status:busy", "status:idle"], "aborted busy/idle")
    # A request sent after the failure runs.
    reply, iopub = k.run("'after'")
    check(reply["content"]["status"] == "ok", reply["content"])

    # stop_on_error=False: the queued cells run.
    first = k.kc.execute("await sleep(200); throw new Error('tolerated')", stop_on_error=False)
    second = k.kc.execute("'runs'")
    check(k.shell_reply(first)["content"]["status"] == "error", "tolerated error")
    check(k.shell_reply(second)["content"]["status"] == "ok", "not aborted")
    return {}


def scenario_stdin(k):
    msg_id = k.kc.execute("print('got ' + await input('name? '))", allow_stdin=True)
    request = k.kc.get_stdin_msg(timeout=TIMEOUT)
    check(request["msg_type"] == "input_request", request["msg_type"])
    check(request["content"] == {"prompt": "name? ", "password": False}, request["content"])
    check(request["parent_header"]["msg_id"] == msg_id, "input_request parent is the execute_request")
    k.kc.input("Ada")
    reply = k.shell_reply(msg_id)
    check(reply["content"]["status"] == "ok", reply["content"])
    texts = [m["content"]["text"] for m in k.iopub_for(msg_id) if m["msg_type"] == "stream"]
    check(texts == ["got Ada\n"], texts)

    reply, _ = k.run("await input('x')", allow_stdin=False)
    check(reply["content"]["status"] == "error" and "StdinNotAllowed" in reply["content"]["evalue"], reply["content"])
    return {}


def scenario_comms(k):
    comm_id = "c-echo-1"
    msg = k.kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {"hello": 1}})
    k.kc.shell_channel.send(msg)
    check(types(k.iopub_for(msg["header"]["msg_id"])) == ["status:busy", "status:idle"], "comm_open busy/idle")
    info_id = k.kc.comm_info()
    comms = k.shell_reply(info_id)["content"]["comms"]
    check(comms == {comm_id: {"target_name": "echo"}}, comms)
    info_id = k.kc.comm_info(target_name="other")
    check(k.shell_reply(info_id)["content"]["comms"] == {}, "comm_info filters by target")

    k.run("'a cell to own comm replies'")
    msg = k.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"ping": 2}})
    k.kc.shell_channel.send(msg)
    echoed = None
    deadline = time.monotonic() + TIMEOUT
    while echoed is None and time.monotonic() < deadline:
        m = k.kc.get_iopub_msg(timeout=TIMEOUT)
        if m["msg_type"] == "comm_msg":
            echoed = m
    check(echoed is not None and echoed["content"] == {"comm_id": comm_id, "data": {"echo": {"ping": 2}}}, echoed)

    msg = k.kc.session.msg("comm_open", {"comm_id": "c-unknown", "target_name": "no-such-target", "data": {}})
    k.kc.shell_channel.send(msg)
    iopub = k.iopub_for(msg["header"]["msg_id"])
    check(types(iopub) == ["status:busy", "comm_close", "status:idle"], types(iopub))
    check(iopub[1]["content"]["comm_id"] == "c-unknown", iopub[1]["content"])

    # A comm opened by a cell reaches the front end under that cell.
    reply, iopub = k.run("openComm('from-kernel', {a: 1}); 1")
    opens = [m for m in iopub if m["msg_type"] == "comm_open"]
    check(len(opens) == 1 and opens[0]["content"]["target_name"] == "from-kernel", types(iopub))
    return {}


def history(k, **kwargs):
    msg_id = k.kc.history(**kwargs)
    reply = k.shell_reply(msg_id)
    check(reply["content"]["status"] == "ok", reply["content"])
    return reply["content"]["history"]


def scenario_history(k):
    for code in ["var a = 1", "a + 1", "a + 2", "'unstored'", "a + 1"]:
        k.run(code, store_history=code != "'unstored'")
    tail = history(k, hist_access_type="tail", n=3, output=False, raw=True)
    check([h[2] for h in tail] == ["a + 1", "a + 2", "a + 1"], tail)
    session = tail[0][0]
    check([h[1] for h in tail] == [2, 3, 4], tail)
    with_output = history(k, hist_access_type="tail", n=1, output=True, raw=True)
    check(with_output[0][2] == ["a + 1", "2"], with_output)
    ranged = history(k, hist_access_type="range", session=0, start=2, stop=4, output=False, raw=True)
    check(ranged == [[session, 2, "a + 1"], [session, 3, "a + 2"]], ranged)
    absolute = history(k, hist_access_type="range", session=session, start=1, stop=2, output=False, raw=True)
    check(absolute == [[session, 1, "var a = 1"]], absolute)
    found = history(k, hist_access_type="search", pattern="a + ?", output=False, raw=True)
    check([h[2] for h in found] == ["a + 1", "a + 2", "a + 1"], found)
    unique = history(k, hist_access_type="search", pattern="a*", unique=True, output=False, raw=True)
    check([h[2] for h in unique] == ["a + 2", "a + 1"], unique)
    last = history(k, hist_access_type="search", pattern="*", n=1, output=False, raw=True)
    check([h[2] for h in last] == ["a + 1"], last)

    # A restarted kernel is a new session and still has the earlier one.
    k.km.restart_kernel(now=False)
    announce(k.km.provisioner.process)
    k.kc.wait_for_ready(timeout=TIMEOUT)
    k.run("'second session'")
    previous = history(k, hist_access_type="range", session=-1, start=1, stop=None, output=False, raw=True)
    check([h[2] for h in previous] == ["var a = 1", "a + 1", "a + 2", "a + 1"] and previous[0][0] == session, previous)
    current = history(k, hist_access_type="range", session=0, start=1, stop=None, output=False, raw=True)
    check(current == [[session + 1, 1, "'second session'"]], current)
    return {"session": session}


def interrupt_with(k, how):
    k.run("var kept = 'state'")
    msg_id = k.kc.execute("await new Promise(() => {})")
    time.sleep(0.3)
    started = time.monotonic()
    if how == "message":
        k.km.interrupt_kernel()
    else:
        k.km.signal_kernel(signal.SIGINT)
    reply = k.shell_reply(msg_id)
    elapsed = time.monotonic() - started
    check(reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt", reply["content"])
    iopub = k.iopub_for(msg_id)
    check("error" in types(iopub), types(iopub))
    reply, iopub = k.run("kept")
    check(reply["content"]["status"] == "ok" and iopub[2]["content"]["data"]["text/plain"] == "'state'", "state kept")
    return {"interrupt_ms": round(elapsed * 1000, 1)}


def scenario_interrupt_message(k):
    # Also checks control answers while shell is busy: interrupt_request goes on control.
    return interrupt_with(k, "message")


def scenario_interrupt_signal(k):
    return interrupt_with(k, "signal")


def scenario_shutdown(k):
    process = k.process
    msg_id = k.kc.shutdown(restart=True)
    reply = k.kc.get_control_msg(timeout=TIMEOUT)
    check(reply["msg_type"] == "shutdown_reply" and reply["parent_header"]["msg_id"] == msg_id, reply)
    check(reply["content"] == {"status": "ok", "restart": True}, reply["content"])
    code = process.wait(timeout=TIMEOUT)
    check(code == 0, "exit code %s" % code)
    # The KernelManager restarts; then a plain shutdown ends the new process cleanly.
    k.km.restart_kernel(now=False)
    process = k.km.provisioner.process
    announce(process)
    k.kc.wait_for_ready(timeout=TIMEOUT)
    reply, _ = k.run("'alive again'")
    check(reply["content"]["status"] == "ok", reply["content"])
    started = time.monotonic()
    k.km.shutdown_kernel(now=False)
    check(process.wait(timeout=TIMEOUT) == 0, "clean exit")
    return {"shutdown_ms": round((time.monotonic() - started) * 1000, 1)}


def scenario_heartbeat(k):
    context = zmq.Context.instance()
    socket = context.socket(zmq.REQ)
    socket.linger = 0
    info = k.km.get_connection_info()
    socket.connect("%s://%s:%d" % (info["transport"], info["ip"], info["hb_port"]))
    try:
        for payload in [b"ping", b"\x00\x01binary"]:
            socket.send(payload)
            check(socket.poll(2000) and socket.recv() == payload, "heartbeat echo")
    finally:
        socket.close()
    # While a cell runs, the heartbeat still answers.
    msg_id = k.kc.execute("await sleep(500)")
    time.sleep(0.1)
    check(k.kc.is_alive(), "alive while busy")
    k.shell_reply(msg_id)
    return {}


def scenario_flood(k):
    count = 2000
    started = time.monotonic()
    ids = [k.kc.execute("%d + 1" % i) for i in range(count)]
    wanted = set(ids)
    replies = {}
    idles = set()
    # Read both channels as a front end does (an unread SUB socket drops at its high-water mark).
    poller = zmq.Poller()
    poller.register(k.kc.shell_channel.socket, zmq.POLLIN)
    poller.register(k.kc.iopub_channel.socket, zmq.POLLIN)
    deadline = time.monotonic() + 120
    while (len(replies) < count or len(idles) < count) and time.monotonic() < deadline:
        ready = dict(poller.poll(1000))
        if k.kc.shell_channel.socket in ready:
            msg = k.kc.get_shell_msg(timeout=0)
            replies[msg["parent_header"]["msg_id"]] = msg["content"]
        if k.kc.iopub_channel.socket in ready:
            msg = k.kc.get_iopub_msg(timeout=0)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                parent = msg["parent_header"].get("msg_id")
                if parent in wanted:
                    idles.add(parent)
    elapsed = time.monotonic() - started
    check(len(replies) == count, "replies %d of %d" % (len(replies), count))
    check(all(c["status"] == "ok" for c in replies.values()), "all ok")
    check(len(idles) == count, "idle statuses %d of %d" % (len(idles), count))
    counts = sorted(c["execution_count"] for c in replies.values())
    check(counts == list(range(1, count + 1)), "execution counts")
    return {"cells": count, "seconds": round(elapsed, 2), "cells_per_second": round(count / elapsed)}


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items() if name.startswith("scenario_")}


def main():
    name, kernel_name = sys.argv[1], sys.argv[2]
    scenario = SCENARIOS[name]
    kernel = Kernel(kernel_name)
    try:
        result = scenario(kernel)
    finally:
        kernel.close()
    print(json.dumps({"scenario": name, **(result or {})}))


if __name__ == "__main__":
    main()
