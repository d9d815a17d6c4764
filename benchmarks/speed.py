"""Training speed on MovieLens-25M-shaped synthetic data, measured side by side in one run.

- the fused engine (one epoch, k=64, all threads, then 1 thread for the scaling);
- the measuring stick: a plain random-order Hogwild SGD epoch of the same data, written below,
  each fused epoch right after one (`--pairs`, default 3: the ratio of each pair and their
  median);
- the PyTorch engine at its best CPU setting here (batch 65,536), one epoch;
- peak RSS of a whole `load + fused training` process (a child process, so nothing else counts);
- ML-100k with the chapter's recipe: valid RMSE of both engines, and the `embedrec train`
  command timed start to saved model.

    python benchmarks/speed.py [--data synthetic-25m.parquet] [--skip-torch] [--pairs 3]

The synthetic file is written (by `embedrec synth --preset ml-25m`) when missing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
from numba import prange

import embedrec
from embedrec.data.synthetic import write_synthetic
from embedrec.models import DotProductBias
from embedrec.training.fused_engine import fit_fused
from embedrec.training.torch_engine import fit_torch

K = 64


@numba.njit(parallel=True, fastmath=True)
def plain_hogwild_epoch(order, users, items, ratings, p, q, bu, bi, lr, reg):
    """The reference: ratings in random order, split across threads, plain SGD, no locks."""
    n_threads = numba.get_num_threads()
    chunk = (len(order) + n_threads - 1) // n_threads
    for t in prange(n_threads):
        for j in range(t * chunk, min((t + 1) * chunk, len(order))):
            row = order[j]
            u, i = users[row], items[row]
            pred = bu[u] + bi[i]
            for f in range(p.shape[1]):
                pred += p[u, f] * q[i, f]
            err = ratings[row] - pred
            bu[u] += lr * (err - reg * bu[u])
            bi[i] += lr * (err - reg * bi[i])
            for f in range(p.shape[1]):
                pu = p[u, f]
                p[u, f] += lr * (err * q[i, f] - reg * pu)
                q[i, f] += lr * (err * pu - reg * q[i, f])


def reference_epoch(ratings) -> float:
    rng = np.random.default_rng(0)
    p = rng.normal(0, 0.01, (ratings.n_users, K)).astype(np.float32)
    q = rng.normal(0, 0.01, (ratings.n_items, K)).astype(np.float32)
    bu = np.zeros(ratings.n_users, np.float32)
    bi = np.zeros(ratings.n_items, np.float32)
    centred = ratings.ratings - ratings.ratings.mean()
    order = rng.permutation(len(ratings)).astype(np.int64)
    small = order[:1000]
    plain_hogwild_epoch(small, ratings.users, ratings.items, centred, p, q, bu, bi, 0.005, 0.02)
    start = time.perf_counter()
    plain_hogwild_epoch(order, ratings.users, ratings.items, centred, p, q, bu, bi, 0.005, 0.02)
    return time.perf_counter() - start


def fused_epoch(ratings, threads: int | None) -> float:
    model = DotProductBias(ratings.n_users, ratings.n_items, K, y_range=(0, 5.5))
    history = fit_fused(
        model, ratings.users, ratings.items, ratings.ratings, epochs=1, threads=threads
    )
    return history[0].seconds


def torch_epoch(ratings, bs: int) -> float:
    model = DotProductBias(ratings.n_users, ratings.n_items, K, y_range=(0, 5.5))
    history = fit_torch(
        model, ratings.users, ratings.items, ratings.ratings, epochs=1, bs=bs, lr=5e-2, device="cpu"
    )
    return history[0].seconds


def child_peak_rss(data: Path) -> tuple[float, float]:
    """Peak RSS (GiB) and wall time of a fresh process that loads the data and trains one
    fused epoch."""
    # VmHWM, not ru_maxrss: on Linux a forked child inherits its parent's ru_maxrss
    code = (
        "import embedrec,time;t=time.time();"
        f"r=embedrec.load_ratings({str(data)!r});"
        f"embedrec.train(r,model='dot-bias',epochs=1,n_factors={K},engine='fused');"
        "hwm=open('/proc/self/status').read().split('VmHWM:')[1].split()[0];"
        "print(time.time()-t, hwm)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[1]) / 2**20, float(out[0])


def ml100k(data: str) -> None:
    split = embedrec.load_split(data)
    for engine in ("torch", "fused"):
        rec = embedrec.train(split, model="dot-bias", engine=engine)
        print(
            f"ML-100k chapter recipe, {engine:5s} engine: valid RMSE "
            f"{embedrec.evaluate(rec, split.valid)['rmse']:.4f}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        command = ["embedrec", "train", "--data", data, "--model", "dot-bias", "--out", f"{tmp}/m"]
        subprocess.run(command, check=True, capture_output=True)  # warm the numba cache
        start = time.perf_counter()
        subprocess.run(command + ["--force"], check=True, capture_output=True)
        print(f"`{' '.join(command)}`: {time.perf_counter() - start:.1f} s start to saved model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("synthetic-ml25m.parquet"))
    parser.add_argument("--ml100k", default="movielens-100k")
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument(
        "--pairs", type=int, default=3, help="reference and fused epochs, one after the other"
    )
    args = parser.parse_args()
    if args.pairs < 1:  # no pair: every ratio and speed-up below would print nan
        parser.error(f"--pairs {args.pairs}: at least 1 pair of epochs")
    if not args.data.exists():
        print(f"writing {args.data} ...", flush=True)
        write_synthetic(args.data, "ml-25m")
    start = time.perf_counter()
    ratings = embedrec.load_ratings(args.data)
    print(
        f"{ratings}: loaded in {time.perf_counter() - start:.1f} s; "
        f"threads {numba.get_num_threads()}, cpu count {os.cpu_count()}"
    )
    fused_epoch(ratings.subset(np.arange(100_000)), None)  # compile / load the cached kernels
    # pairs, one right after the other, so that a busy spell slows both sides of a ratio
    ratios, fused_runs = [], []
    for run in range(1, args.pairs + 1):
        reference = reference_epoch(ratings)
        fused = fused_epoch(ratings, None)
        ratios.append(fused / reference)
        fused_runs.append(fused)
        print(
            f"pair {run}: plain random-order Hogwild SGD epoch {reference:.2f} s "
            f"({len(ratings) / reference / 1e6:.1f} M ratings/s); fused engine epoch "
            f"{fused:.2f} s ({len(ratings) / fused / 1e6:.1f} M ratings/s): "
            f"{fused / reference:.2f}x the reference",
            flush=True,
        )
    fused = float(np.median(fused_runs))
    print(f"fused / reference, median of {args.pairs} pairs: {np.median(ratios):.2f}x", flush=True)
    one = fused_epoch(ratings, 1)
    print(
        f"fused engine epoch on 1 thread: {one:.2f} s; 2-thread speed-up {one / fused:.2f}x",
        flush=True,
    )
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    if not args.skip_torch:
        seconds = torch_epoch(ratings, 65_536)
        print(
            f"PyTorch engine epoch, batch 65,536: {seconds:.1f} s "
            f"({len(ratings) / seconds / 1e6:.2f} M ratings/s); fused is "
            f"{seconds / fused:.1f}x faster",
            flush=True,
        )
    del ratings
    peak, wall = child_peak_rss(args.data)
    print(f"load + 1 fused epoch in a fresh process: peak RSS {peak:.2f} GiB, {wall:.1f} s")
    ml100k(args.ml100k)


if __name__ == "__main__":
    main()
