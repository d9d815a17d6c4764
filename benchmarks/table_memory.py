"""Where one process's embedding tables stop: peak RSS of the torch engine's real training step
(`TorchSteps`, as `embedrec train` runs it) against the size of the user table.

For each size a fresh process builds the chapter's DotProductBias with USERS x WIDTH user
embeddings (and a fixed 10,000-item table), takes STEPS optimiser steps on random batches of
1,024 ratings, and reports its peak resident memory (`ru_maxrss`) and the time per step. Tables
this large train with sparse steps (`SparseAdam`, past `SPARSE_ROWS_X_WIDTH`), whose two
moment buffers are dense: about 12 bytes per embedding weight, before Python and torch. A
distributed run (torchrun) holds a full replica of every table on every rank, so this is also
the limit per rank.

    python benchmarks/table_memory.py [--width 64] [--users 500000,1000000,2000000,4000000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import time

import torch

from embedrec.models.dot import DotProductBias
from embedrec.training.gradients import TorchSteps

ITEMS = 10_000
STEPS = 20
BATCH = 1_024


def measure(users: int, width: int, queue: multiprocessing.Queue) -> None:
    """In a fresh process: build, step, report (peak RSS in GiB, seconds per step, sparse)."""
    torch.manual_seed(0)
    network = DotProductBias(users, ITEMS, width, (0.0, 5.5))
    steps = TorchSteps(network, lr=5e-3, wd=0.1)
    generator = torch.Generator().manual_seed(0)
    started = 0.0
    for step in range(STEPS + 1):
        if step == 1:
            started = time.perf_counter()  # the first step allocates the optimiser state
        u = torch.randint(0, users, (BATCH,), generator=generator)
        i = torch.randint(0, ITEMS, (BATCH,), generator=generator)
        r = torch.rand(BATCH, generator=generator) * 4 + 1
        steps.step(u, i, r, 5e-3)
    per_step = (time.perf_counter() - started) / STEPS
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    queue.put((peak, per_step, steps.sparse))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--users", default="500000,1000000,2000000,4000000")
    args = parser.parse_args()
    print(f"{platform.node()}: {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'users':>12} {'width':>6} {'weights':>14} {'GiB of weights':>15} "
          f"{'peak RSS GiB':>13} {'ms/step':>8} {'steps':>7}")  # fmt: skip
    context = multiprocessing.get_context("spawn")
    for users in (int(u) for u in args.users.split(",")):
        queue: multiprocessing.Queue = context.Queue()
        child = context.Process(target=measure, args=(users, args.width, queue))
        child.start()
        peak, per_step, sparse = queue.get()
        child.join()
        weights = (users + ITEMS) * (args.width + 1)
        kind = "sparse" if sparse else "dense"
        print(f"{users:>12,} {args.width:>6} {weights:>14,} {weights * 4 / 2**30:>15.2f} "
              f"{peak:>13.2f} {per_step * 1e3:>8.1f} {kind:>7}")  # fmt: skip


if __name__ == "__main__":
    main()
