"""Scenarios against the REAL ringbook kernel (TypeScript cells, worker-thread executor).

Usage: /usr/bin/python3 real_driver.py SCENARIO KERNEL_NAME
Same conventions as driver.py: one kernel per scenario, one JSON line printed, exit 0 when every
assertion held, the kernel always shut down.
"""

import json
import signal
import sys
import time

from driver import Kernel, check, types


def interrupt_cell(k, code, how):
    """Starts `code`, interrupts it, and returns how long the reply took after the interrupt."""
    msg_id = k.kc.execute(code)
    time.sleep(0.4)
    started = time.monotonic()
    if how == "message":
        k.km.interrupt_kernel()
    else:
        k.km.signal_kernel(signal.SIGINT)
    reply = k.shell_reply(msg_id)
    elapsed = time.monotonic() - started
    check(reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt", reply["content"])
    k.iopub_for(msg_id)
    return elapsed


def scenario_interrupt_kinds(k):
    """A busy loop, a never-resolving await and a microtask loop all stop within 1 s, state kept."""
    k.run("let kept: string = 'state'; let ticks = 0;")
    times = {}
    cells = {
        "busy_loop": "while (true) { ticks++ }",
        "pending_await": "await new Promise(() => {})",
        "microtask_loop": "while (true) { await Promise.resolve(); ticks++ }",
    }
    for how in ["message", "signal"]:
        for kind, code in cells.items():
            elapsed = interrupt_cell(k, code, how)
            check(elapsed < 1.0, "%s via %s took %.3f s" % (kind, how, elapsed))
            times["%s_%s_ms" % (kind, how)] = round(elapsed * 1000, 1)
            reply, iopub = k.run("kept + ' ' + (ticks > 0 || '%s' === 'pending_await')" % kind)
            results = [m for m in iopub if m["msg_type"] == "execute_result"]
            check(reply["content"]["status"] == "ok" and results[0]["content"]["data"]["text/plain"] == "'state true'", results)
    return times


def scenario_stop_on_error(k):
    first = k.kc.execute("await new Promise((r) => setTimeout(r, 300)); throw new Error('first fails')")
    queued = [k.kc.execute("console.log('must not run')") for _ in range(3)]
    reply = k.shell_reply(first)
    check(reply["content"]["status"] == "error" and reply["content"]["evalue"] == "first fails", reply["content"])
    for msg_id in queued:
        check(k.shell_reply(msg_id)["content"]["status"] == "aborted", "queued cell aborted")
    reply, iopub = k.run("'after'")
    check(reply["content"]["status"] == "ok", reply["content"])
    check(all(m["msg_type"] != "stream" for m in iopub), "nothing printed")
    return {}


def scenario_stdin(k):
    msg_id = k.kc.execute("const who = await input('name? ');\nconst secret = await input.password('pw? ');\nconsole.log(`hi ${who}, ${secret.length}`)", allow_stdin=True)
    for expected, answer, password in [("name? ", "ada", False), ("pw? ", "hunter2", True)]:
        request = k.kc.get_stdin_msg(timeout=10)
        check(request["msg_type"] == "input_request" and request["content"]["prompt"] == expected, request["content"])
        check(request["content"]["password"] == password, request["content"])
        k.kc.input(answer)
    reply = k.shell_reply(msg_id)
    check(reply["content"]["status"] == "ok", reply["content"])
    streams = [m["content"]["text"] for m in k.iopub_for(msg_id) if m["msg_type"] == "stream"]
    check(streams == ["hi ada, 7\n"], streams)
    reply, iopub = k.run("await input('no stdin? ')", allow_stdin=False)
    check(reply["content"]["status"] == "error", reply["content"])
    return {}


def scenario_comms(k):
    k.run("comms.registerTarget('echo', (comm) => { comm.onMsg((data) => comm.send({ echo: data })); });")
    comm_id = "c-echo-real"
    msg = k.kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {}})
    k.kc.shell_channel.send(msg)
    k.iopub_for(msg["header"]["msg_id"])
    msg = k.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"ping": 2}})
    k.kc.shell_channel.send(msg)
    echoed = None
    deadline = time.monotonic() + 10
    while echoed is None and time.monotonic() < deadline:
        m = k.kc.get_iopub_msg(timeout=10)
        if m["msg_type"] == "comm_msg":
            echoed = m
    check(echoed is not None and echoed["content"]["data"] == {"echo": {"ping": 2}}, echoed)
    msg = k.kc.session.msg("comm_open", {"comm_id": "c-unknown", "target_name": "no-such-target", "data": {}})
    k.kc.shell_channel.send(msg)
    check("comm_close" in types(k.iopub_for(msg["header"]["msg_id"])), "unknown target closed")
    reply, iopub = k.run("const c = comms.open('from-kernel', { a: 1 }); c.commId.length > 0")
    check([m["content"]["target_name"] for m in iopub if m["msg_type"] == "comm_open"] == ["from-kernel"], types(iopub))
    return {}


def scenario_outputs(k):
    """Display handles update in place; output from a timer lands in the cell that set it."""
    reply, iopub = k.run("const h = display.create('first');\nh.update('second');\nsetTimeout(() => console.log('late'), 200); 'done'")
    kinds = types(iopub)
    check("display_data" in kinds and "update_display_data" in kinds, kinds)
    display_id = [m for m in iopub if m["msg_type"] == "display_data"][0]["content"]["transient"]["display_id"]
    update = [m for m in iopub if m["msg_type"] == "update_display_data"][0]
    check(update["content"]["transient"]["display_id"] == display_id, update["content"])
    cell_id = reply["parent_header"]["msg_id"]
    # Before or after the cell's idle (the first cell of a kernel waits for its type check).
    late = next((m for m in iopub if m["msg_type"] == "stream"), None)
    deadline = time.monotonic() + 5
    while late is None and time.monotonic() < deadline:
        m = k.kc.get_iopub_msg(timeout=5)
        if m["msg_type"] == "stream":
            late = m
    check(late is not None and late["content"]["text"] == "late\n" and late["parent_header"]["msg_id"] == cell_id, late)
    reply, iopub = k.run("Promise.reject(new Error('nobody catches me')); 'survived'")
    check(reply["content"]["status"] in ("ok", "error"), reply["content"])
    reply, iopub = k.run("'kernel alive'")
    check(reply["content"]["status"] == "ok", "kernel alive after an unhandled rejection")
    return {}


def scenario_restart_executor(k):
    reply, _ = k.run("process.exit(3)")
    check(reply["content"]["status"] == "error" and reply["content"]["ename"] == "ExecutorRestarted", reply["content"])
    reply, iopub = k.run("1 + 1")
    check(reply["content"]["status"] == "ok", "works after the executor restarted")
    process = k.process
    k.km.restart_kernel(now=False)
    check(process.poll() is not None, "old kernel process gone after restart")
    k.process = k.km.provisioner.process
    print("KERNEL_PID %d" % k.process.pid, file=sys.stderr, flush=True)
    k.kc.wait_for_ready(timeout=20)
    reply, _ = k.run("'fresh'")
    check(reply["content"]["status"] == "ok", reply["content"])
    return {}


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items() if name.startswith("scenario_")}


def main():
    name, kernel_name = sys.argv[1], sys.argv[2]
    kernel = Kernel(kernel_name)
    try:
        result = SCENARIOS[name](kernel)
    finally:
        kernel.close()
    print(json.dumps({"scenario": name, **(result or {})}))


if __name__ == "__main__":
    main()
