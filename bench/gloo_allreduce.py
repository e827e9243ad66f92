#!/usr/bin/env python3
"""The baseline of bench/multihost-allreduce.ts (copied from the multi-host anchors' gloo-allreduce.py,
../shared/multihost/README.md Q3): torch.distributed (gloo) all_reduce of float32 tensors.
Run one process per "host" (network namespace), e.g. for rank i of n:
  ip netns exec mh$((i+1)) env GLOO_SOCKET_IFNAME=veth0 \
     /usr/bin/python3 gloo_allreduce.py --rank i --world n --init tcp://198.18.0.1:29500
Every rank prints one JSON line per size: its seconds per all_reduce (times_s), their median, and
bus bandwidth = 2(n-1)/n * bytes / time; the caller takes, per all_reduce, the slowest rank's time."""
import argparse, json, os, statistics, time
import torch, torch.distributed as dist

ap = argparse.ArgumentParser()
ap.add_argument("--rank", type=int, required=True)
ap.add_argument("--world", type=int, required=True)
ap.add_argument("--init", required=True)
ap.add_argument("--sizes-mib", default="4,64")
ap.add_argument("--iters", type=int, default=5)
ap.add_argument("--warmup", type=int, default=1)
ap.add_argument("--label", default="")
a = ap.parse_args()
torch.set_num_threads(1)
t_init = time.time()
dist.init_process_group("gloo", init_method=a.init, rank=a.rank, world_size=a.world,
                        timeout=__import__("datetime").timedelta(seconds=120))
t_init = time.time() - t_init
n = a.world
for mib in [int(x) for x in a.sizes_mib.split(",")]:
    nbytes = mib << 20
    x = torch.ones(nbytes // 4, dtype=torch.float32)
    times = []
    # The tensor is ones before every all-reduce (dividing the sum by n restores them exactly, off
    # the clock and off the CPU count), so any number of warm-ups and timed calls can run.
    restore_cpu = 0.0
    for it in range(a.warmup + a.iters):
        if it == a.warmup:
            cpu0 = time.process_time()
            restore_cpu = 0.0
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(x)
        dt = time.perf_counter() - t0
        if it >= a.warmup:
            times.append(dt)
        # every rank's tensor must hold n (ones summed over n ranks)
        assert x[0].item() == n and x[-1].item() == n, f"all_reduce of ones gave {x[0].item()}, expected {n}"
        r0 = time.process_time()
        x.div_(n)
        restore_cpu += time.process_time() - r0
    med = statistics.median(times)
    print(json.dumps({"label": a.label, "rank": a.rank, "world": n, "MiB": mib, "median_s": round(med, 4), "times_s": times, "cpu_ms_per_op": round((time.process_time() - cpu0 - restore_cpu) * 1000 / a.iters, 2),
                      "min_s": round(min(times), 4), "max_s": round(max(times), 4),
                      "busbw_GBps": round(2 * (n - 1) / n * nbytes / med / 1e9, 4),
                      "algbw_GBps": round(nbytes / med / 1e9, 4),
                      "init_s": round(t_init, 3)}), flush=True)
dist.destroy_process_group() if hasattr(dist, "destroy_process_group") else None
