"""Runs one cell on the real ringbook kernel with jupyter_client and reports its display messages.

Usage: /usr/bin/python3 live_plot_messages.py KERNEL_NAME CODE_FILE
PYTHONPATH must include test/kernel/py (for driver.Kernel). Prints one JSON line:
{"status": reply status, "result": the execute_result's text/plain, "displays": [{"type", "id",
"kind": "figure" | "progress" | "other", "at": seconds since the first display (the kernel's header
date), "bytes": size of the data as JSON, "mimetypes": [...]}]}. The kernel is always shut down.
"""

import json
import sys

from driver import Kernel


def kind_of(data):
    if "application/vnd.plotly.v1+json" in data:
        return "figure"
    if "ringbook-progress" in data.get("text/html", ""):
        return "progress"
    return "other"


def main():
    kernel_name, code_file = sys.argv[1], sys.argv[2]
    with open(code_file, encoding="utf-8") as f:
        code = f.read()
    kernel = Kernel(kernel_name)
    try:
        msg_id = kernel.kc.execute(code)
        messages = kernel.iopub_for(msg_id, timeout=300)
        reply = kernel.shell_reply(msg_id, timeout=30)
    finally:
        kernel.close()
    displays = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")]
    start = displays[0]["header"]["date"] if displays else None
    results = [m for m in messages if m["msg_type"] == "execute_result"]
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    streams = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    print(json.dumps({
        "status": reply["content"]["status"],
        "errors": errors,
        "streams": streams[-2000:],
        "result": results[0]["content"]["data"].get("text/plain") if results else None,
        "displays": [{
            "type": m["msg_type"],
            "id": m["content"].get("transient", {}).get("display_id"),
            "kind": kind_of(m["content"]["data"]),
            "at": (m["header"]["date"] - start).total_seconds(),
            "bytes": len(json.dumps(m["content"]["data"])),
            "mimetypes": sorted(m["content"]["data"].keys()),
        } for m in displays],
    }))


if __name__ == "__main__":
    main()
