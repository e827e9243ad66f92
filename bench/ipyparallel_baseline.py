"""ipyparallel baseline for bench/cluster.ts: time until N engines are ready, and apply round trips.

Prints one JSON object on stdout. Uses Debian's python3-ipyparallel; run with /usr/bin/python3.
"""
import json
import statistics
import sys
import time

import ipyparallel as ipp


def main() -> None:
    engines = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    started = time.perf_counter()
    cluster = ipp.Cluster(n=engines, log_level=40)
    client = cluster.start_and_connect_sync()
    client.wait_for_engines(engines, timeout=120)
    ready_s = time.perf_counter() - started
    view = client[:]
    view.apply_sync(lambda: 0)  # warm up
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        view.apply_sync(lambda: 1)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    cluster.stop_cluster_sync()
    print(json.dumps({
        "engines": engines,
        "ready_ms": ready_s * 1000,
        "apply_p50_ms": statistics.median(samples),
        "apply_p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
    }))


if __name__ == "__main__":
    main()
