"""The PyTorch engine on a CPU: large embedding tables, and a machine that is busy.

- *Large tables*: a 17,000 x 16,000 catalogue with 65,000 ratings (most users with a handful),
  the neural model at fastai's embedding widths, one epoch of dense AdamW steps against sparse
  steps (`SparseAdam` on the embeddings, `training/torch_engine.py`).
- *Busy machine*: the chapter's neural model on MovieLens 100k, one epoch, on an idle machine
  and with one other CPU-bound process running (a pure-Python spin loop, one core), at torch's
  default threads (all cores) and at the engine's choice for batch 64 (one thread).
- *Accuracy of sparse steps*: the chapter's DotProductBias recipe on MovieLens 100k (random 20%,
  seed 42) trained with dense AdamW and with sparse steps: valid MSE of each.

    python benchmarks/torch_cpu.py [--data movielens-100k] [--skip-large] [--skip-busy]
        [--skip-accuracy]

Run it on an otherwise idle machine: it starts its own busy process.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import time

import numpy as np
import pandas as pd
import torch

import embedrec
from embedrec.models import DotProductBias, EmbeddingNN, embedding_size
from embedrec.training.torch_engine import fit_torch


def spin(stop_at: float) -> None:
    """One core's worth of pure-Python work until `stop_at`."""
    x = 0
    while time.time() < stop_at:
        x = (x * 31 + 7) % 1_000_003


def large_catalogue(seed: int = 0) -> embedrec.Ratings:
    rng = np.random.default_rng(seed)
    n_users, n_items, n = 17_000, 16_000, 65_000
    users = np.concatenate([np.arange(n_users), rng.integers(0, n_users, n - n_users)])
    popular = rng.zipf(1.3, n) % n_items  # a few blockbusters, and every item rated
    items = np.where(rng.random(n) < 0.5, popular, rng.integers(0, n_items, n))
    frame = pd.DataFrame(
        {"user": users, "item": items, "rating": rng.integers(1, 6, n).astype(np.float32)}
    ).drop_duplicates(["user", "item"])
    return embedrec.ratings_from_frame(frame, rating_scale=(1, 5))


def epoch_seconds(data: embedrec.Ratings, *, sparse: bool | None, threads: int | None) -> float:
    torch.manual_seed(0)
    network = EmbeddingNN(
        data.n_users,
        data.n_items,
        user_size=embedding_size(data.n_users),
        item_size=embedding_size(data.n_items),
        y_range=(0.0, 5.5),
    )
    start = time.perf_counter()
    fit_torch(
        network, data.users, data.items, data.ratings, epochs=1, sparse=sparse, threads=threads
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-busy", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    print(
        f"<!-- torch {torch.__version__}, {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()} -->"
    )
    if not args.skip_large:
        data = large_catalogue()
        print(f"\nlarge tables: {data.n_users} users x {data.n_items} items, {len(data)} ratings")
        print("| steps | seconds per epoch |\n|---|---|")
        for name, sparse in (("sparse (auto)", None), ("dense AdamW", False)):
            seconds = epoch_seconds(data, sparse=sparse, threads=None)
            print(f"| {name} | {seconds:.1f} |", flush=True)
    if not args.skip_busy:
        train = embedrec.load_split(args.data, valid_pct=0.2, seed=42).train
        print(f"\nbusy machine: chapter's neural model, one epoch on {len(train)} ratings")
        print("| threads | idle s | one busy process s | busy / idle |\n|---|---|---|---|")
        for name, threads in (("engine's choice (1 at batch 64)", None), ("torch default", 0)):
            chosen = torch.get_num_threads() if threads == 0 else threads
            idle = epoch_seconds(train, sparse=None, threads=chosen)
            busy_process = multiprocessing.Process(target=spin, args=(time.time() + 600,))
            busy_process.start()
            try:
                busy = epoch_seconds(train, sparse=None, threads=chosen)
            finally:
                busy_process.terminate()
                busy_process.join()
            print(f"| {name} | {idle:.1f} | {busy:.1f} | {busy / idle:.2f} |", flush=True)
    if not args.skip_accuracy:
        split = embedrec.load_split(args.data, valid_pct=0.2, seed=42)
        t = split.train
        print("\nsparse steps, chapter recipe (DotProductBias, wd 0.1), valid MSE")
        print("| steps | valid MSE |\n|---|---|")
        rec = embedrec.train(split, model="dot-bias", engine="torch", epochs=1, device="cpu")
        for name, sparse in (("dense AdamW", False), ("sparse", True)):
            torch.manual_seed(42)
            network = DotProductBias(t.n_users, t.n_items, 50, (0.0, 5.5))
            rec.model.network = network
            fit_torch(network, t.users, t.items, t.ratings, epochs=5, wd=0.1, sparse=sparse)
            print(f"| {name} | {embedrec.evaluate(rec, split.valid)['loss']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
