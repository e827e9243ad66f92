#!/usr/bin/python3
"""Measure Jupyter kernels through jupyter_client (Debian's 7.4.9) and print JSON on stdout.

Run with /usr/bin/python3. For each kernelspec name given with --kernel (one or more), measures:

- start: KernelManager.start_kernel() until the first kernel_info_reply, over --starts fresh starts;
- round trip of a trivial cell (``1+1``) and of a cell declaring a NEW typed function each time,
  from sending execute_request until both the execute_reply AND the idle status for that request
  have arrived, over --cells cells of each kind;
- when some kernel serves ringbook's `ringbook.diagnostics` comm, after the memory figures, the
  round trip of other new typed functions, on every kernel in turn; a kernel that serves the comm
  gets each one there first and answers (as ringbook's JupyterLab extension checks a cell while it
  is edited) before it is sent to run;
- RSS (and peak RSS) of the kernel's process tree after the plain cells, summed over /proc;
- lost replies / idle statuses (none should be lost) and error replies.

With several kernels, the work is interleaved so that machine noise hits all of them alike: start
rounds go round-robin over the kernels (rotating the order each round), then one session per kernel
is opened and cells are sent round-robin, one cell per kernel in turn.

Every kernel PID is appended to --pid-log as soon as it is known, so that the orchestrator can kill
leftovers even if this driver itself is killed. SIGTERM/SIGINT shut every kernel down.
Progress and diagnostics go to stderr; the final JSON document goes to stdout or --output. (Kernels
inherit the driver's stdout: a reader waiting for stdout to close would wait for them too.)
"""

import sys

# The helper modules sit next to this script; keep their bytecode out of the source tree.
sys.dont_write_bytecode = True

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402

from kernel_proc import tree_memory  # noqa: E402
from kernel_session import Kernel, log  # noqa: E402

SCHEMA = "ringbook-kernel-bench/1"


class Interrupted(Exception):
    """Raised from the signal handler so that cleanup runs in `finally` blocks."""


def on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


PARENT_PID = os.getppid()


def check_parent():
    """Stop (and shut kernels down) if the orchestrator died without telling us (e.g. SIGKILL)."""
    if os.getppid() != PARENT_PID:
        raise Interrupted(f"parent process {PARENT_PID} is gone")


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


# ---------------------------------------------------------------- cells


def trivial_cell(language, _index):
    return "1+1"


def function_cell(language, index):
    if language == "python":
        return f"def f_{index}(a: float, b: float) -> float:\n    return a * b + {index}"
    return f"function f_{index}(a: number, b: number): number {{ return a * b + {index} }}"


def checked_function_cell(language, index):
    """A new typed function like function_cell's, under other names: the cell the user edits and
    then runs, checked while typed (by ringbook's JupyterLab extension) before it runs."""
    return function_cell(language, 100000 + index)


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
                check_parent()
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
        # Kernels that serve ringbook's diagnostics comm (a JupyterLab notebook with ringbook's
        # extension checks a cell while it is edited): their typed cells are also timed that way.
        diagnostics_comms = {}
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
            if languages[name] == "typescript":
                comm_id = kernel.open_diagnostics_comm(2.0)
                if comm_id is not None:
                    diagnostics_comms[name] = comm_id
        kinds = {"trivial": trivial_cell, "function": function_cell}
        samples = {name: {kind: [] for kind in [*kinds, "checkedFunction"]} for name in names}
        lost = {name: {"replies": 0, "idle": 0, "cells": []} for name in names}
        error_replies = {name: 0 for name in names}

        def run_cell(name, kernel, kind, code, index):
            outcome = kernel.execute(code, args.reply_timeout, args.idle_grace)
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

        # Cell numbers offset so that names never collide with anything the kernel defines itself.
        for index in range(args.cells):
            check_parent()
            for kind, make in kinds.items():
                for name in rotated(names, index):
                    kernel = sessions.get(name)
                    if kernel is not None:
                        run_cell(name, kernel, kind, make(languages[name], 1000 + index), index)
            if index == (args.cells - 1) // 2:
                # Halfway, i.e. after about `--cells` cells in all: comparable with "RSS after N cells".
                for name, kernel in sessions.items():
                    results[name]["memoryAtHalf"] = {**tree_memory(kernel.pid), "cells": 2 * (index + 1)}
            if (index + 1) % 50 == 0:
                log(f"cells {index + 1}/{args.cells} of each kind done")
        for name, kernel in sessions.items():
            kernel.record_pids()  # children started by cells, if any, must be reaped too
            results[name]["memoryAfterCells"] = tree_memory(kernel.pid)
        # Then more new typed functions, as a JupyterLab user with ringbook's extension runs them:
        # where a kernel serves ringbook's diagnostics comm, each cell is checked while edited
        # (the answer shown in the editor) and then run; other kernels just run it. Only the run
        # is timed, every kernel in turn as above. After the memory figures, so that those count
        # the same cells for every kernel.
        for index in range(args.cells if diagnostics_comms else 0):
            check_parent()
            for name in rotated(names, index):
                kernel = sessions.get(name)
                if kernel is None:
                    continue
                code = checked_function_cell(languages[name], 1000 + index)
                comm_id = diagnostics_comms.get(name)
                if comm_id is not None and kernel.check_as_typed(comm_id, code, index + 1, args.reply_timeout) is None and len(results[name]["errors"]) < 5:
                    results[name]["errors"].append(f"no diagnostics answer before checked cell #{index}")
                run_cell(name, kernel, "checkedFunction", code, index)
        for name, kernel in sessions.items():
            results[name]["cellsRun"] = (3 if diagnostics_comms else 2) * args.cells
            results[name]["trivialCell"] = summarize_ms(samples[name]["trivial"])
            results[name]["functionCell"] = summarize_ms(samples[name]["function"])
            results[name]["checkedFunctionCell"] = summarize_ms(samples[name]["checkedFunction"]) if diagnostics_comms else None
            results[name]["checkedWhileEdited"] = name in diagnostics_comms
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
