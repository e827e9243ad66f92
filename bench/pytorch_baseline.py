"""PyTorch baselines of bench/training.ts: the same MLP and CNN, batch and optimizer (Adam, lr 1e-3).

Run with Debian's PyTorch 1.13 (`/usr/bin/python3`, package python3-torch) and
OPENBLAS_NUM_THREADS=1 in the environment: Debian's OpenBLAS is the pthread build, and
torch.set_num_threads(1) alone still runs its BLAS on every core.

  python3 bench/pytorch_baseline.py single MODEL STEPS WARMUP   # one process, one thread
  python3 bench/pytorch_baseline.py ddp MODEL STEPS WARMUP      # DDP, gloo, 2 processes x 1 thread

Prints one JSON line: {"samplesPerSecond": N, ...}: steady-state samples per second over the
steps after the warm-up (all processes together for DDP), each step timed from taking its batch to
the optimizer's step, as ringbook times its steps.
"""
import json
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

BATCH = {"mlp": 128, "cnn": 64}
#: Distinct batches drawn in turn (synthetic: throughput does not depend on the values).
POOL = 16


def build(model_name):
    if model_name == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    if model_name == "cnn":
        # tfjs's conv2d defaults: 'valid' padding; flatten after two 2x2 poolings of 28x28 -> 5x5x64.
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(5 * 5 * 64, 128), nn.ReLU(), nn.Linear(128, 10),
        )
    raise SystemExit(f"unknown model {model_name!r}; use mlp or cnn")


def batches(model_name, seed):
    generator = torch.Generator().manual_seed(seed)
    shape = (BATCH[model_name], 784) if model_name == "mlp" else (BATCH[model_name], 1, 28, 28)
    return [(torch.rand(shape, generator=generator), torch.randint(0, 10, (BATCH[model_name],), generator=generator)) for _ in range(POOL)]


def train(model, data, steps, warmup):
    """Steady-state samples/s of this process; the loss is a softmax cross-entropy, as ringbook's."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    timed_samples, timed_seconds = 0, 0.0
    for step in range(steps):
        start = time.perf_counter()
        xs, ys = data[step % len(data)]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs), ys)
        loss.backward()
        optimizer.step()
        loss.item()
        elapsed = time.perf_counter() - start
        if step >= warmup:
            timed_samples += xs.shape[0]
            timed_seconds += elapsed
    return timed_samples / timed_seconds


def ddp_rank(rank, world, port, model_name, steps, warmup, results):
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(1)
    model = nn.parallel.DistributedDataParallel(build(model_name))
    results[rank] = train(model, batches(model_name, seed=rank), steps, warmup)
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("single", "ddp"):
        raise SystemExit(__doc__)
    mode, model_name, steps, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        raise SystemExit("set OPENBLAS_NUM_THREADS=1: Debian's OpenBLAS would otherwise use every core")
    torch.set_num_threads(1)
    if mode == "single":
        torch.manual_seed(1)
        rate = train(build(model_name), batches(model_name, seed=0), steps, warmup)
        print(json.dumps({"samplesPerSecond": rate, "torch": torch.__version__, "threads": torch.get_num_threads()}))
        return
    world = 2
    results = mp.Manager().dict()
    mp.spawn(ddp_rank, args=(world, free_port(), model_name, steps, warmup, results), nprocs=world, join=True)
    print(json.dumps({"samplesPerSecond": sum(results.values()), "perRank": [results[r] for r in range(world)], "torch": torch.__version__}))


if __name__ == "__main__":
    main()
