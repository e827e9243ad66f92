"""Launches a cluster from a cell of the real ringbook kernel (Debian's jupyter_client), then ends
the kernel in the way named by argv[1] (restart, shutdown, sigkill) and prints one JSON line:
the worker pids and which of them are still alive after the given number of seconds.

Environment: RINGBOOK_TEST_KERNEL (kernelspec name), the JUPYTER_* paths of the test, and
optionally RINGBOOK_TEST_LAUNCH_OPTIONS (launchCluster's options as JSON; default 2 local workers),
with which the cell also prints where the workers run (JOB ...)."""
import json
import os
import signal
import sys
import time

import jupyter_client


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
        return text[text.rindex(")") + 2] != "Z"
    except OSError:
        return False


def execute(client, code):
    reply = client.execute_interactive(code, timeout=60, output_hook=lambda msg: outputs.append(msg))
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell failed: {reply['content']}")


outputs = []
how = sys.argv[1]
wait_s = float(sys.argv[2])
manager = jupyter_client.KernelManager(kernel_name=os.environ["RINGBOOK_TEST_KERNEL"])
manager.start_kernel()
print(f"KERNEL_PID {manager.provisioner.process.pid}", file=sys.stderr, flush=True)
client = manager.client()
client.start_channels()
client.wait_for_ready(timeout=60)
launch_options = os.environ.get("RINGBOOK_TEST_LAUNCH_OPTIONS", '{ "workers": 2 }')
execute(client, f'import {{ launchCluster }} from "ringbook";\nconst cluster = await launchCluster({launch_options});\nconsole.log("PIDS " + cluster.describe().map((row) => row.pid).join(" "));\nconsole.log("JOB " + cluster.describe().placement?.launcher)')
pids = []
for msg in outputs:
    if msg["msg_type"] == "stream" and "PIDS " in msg["content"]["text"]:
        pids = [int(p) for p in msg["content"]["text"].split("PIDS ")[1].split("\n")[0].split()]
started = time.monotonic()
if how == "restart":
    manager.restart_kernel(now=False)
elif how == "shutdown":
    manager.shutdown_kernel(now=False)
elif how == "sigkill":
    os.kill(manager.provisioner.process.pid, signal.SIGKILL)
else:
    raise SystemExit(f"unknown way to end the kernel: {how}")
deadline = started + wait_s
while time.monotonic() < deadline and any(alive(pid) for pid in pids):
    time.sleep(0.02)
print(json.dumps({"pids": pids, "alive": [pid for pid in pids if alive(pid)], "seconds": round(time.monotonic() - started, 3)}), flush=True)
client.stop_channels()
if how == "restart":
    manager.shutdown_kernel(now=True)
elif how == "sigkill":
    manager.cleanup_resources()
