"""implicit ALS at MovieLens-25M scale beside the peer: seconds per iteration of embedrec's ials
and of implicit's ALS (64 factors, both on the same threads, same interactions, same run), the
peak memory of a fresh process that loads the file and trains, and top-10 lists for every user
in one batched call.

python benchmarks/ials_speed.py --data synthetic-ml25m.parquet [--threads 2] [--iterations 3]
(`embedrec synth --preset ml-25m --out synthetic-ml25m.parquet` writes the file; implicit is
installed in the benchmark environment only.)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

import embedrec

K = 64


def peak_rss_of(code: str) -> tuple[float, str]:
    """Peak RSS (GiB) of a fresh Python process running `code`, and what it printed."""
    script = code + "\nprint(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    lines = [line for line in out if line.strip()]
    return int(lines[-1]) / 2**20, "\n".join(lines[:-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("synthetic-ml25m.parquet"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()
    if not args.data.exists():
        embedrec.write_synthetic(args.data, "ml-25m")
    ratings = embedrec.load_ratings(args.data)
    print(f"{ratings}; {args.threads} threads, {K} factors", flush=True)

    matrix = sp.csr_matrix(
        (np.ones(len(ratings), np.float32), (ratings.users, ratings.items)),
        shape=(ratings.n_users, ratings.n_items),
    )
    stamps: list[float] = []
    peer = AlternatingLeastSquares(
        factors=K, regularization=0.05, iterations=args.iterations, num_threads=args.threads,
        random_state=0, calculate_training_loss=False,
    )  # fmt: skip
    start = time.perf_counter()
    with threadpool_limits(1, "blas"):  # implicit's own advice for its best speed
        peer.fit(
            matrix, show_progress=False, callback=lambda *_: stamps.append(time.perf_counter())
        )
    times = np.diff([start, *stamps])
    print(
        f"implicit {args.iterations} iterations: {', '.join(f'{t:.2f}' for t in times)} s "
        f"(steady {np.median(times[1:] if len(times) > 1 else times):.2f} s per iteration)",
        flush=True,
    )
    del peer, matrix

    rec = embedrec.train(
        ratings, model="ials", n_factors=K, epochs=args.iterations, threads=args.threads
    )
    ours = [h.seconds for h in rec.history]
    steady = float(np.median(ours[1:] if len(ours) > 1 else ours))
    print(
        f"embedrec ials {args.iterations} iterations: {', '.join(f'{t:.2f}' for t in ours)} s "
        f"(steady {steady:.2f} s per iteration)",
        flush=True,
    )
    users = np.arange(rec.n_users)
    start = time.perf_counter()
    top = rec.recommend(rec.user_map.decode(users), n=10)
    seconds = time.perf_counter() - start
    print(f"top-10 for all {rec.n_users:,} users in one call: {seconds:.1f} s ({len(top):,} rows)")
    del rec, ratings

    peak, _ = peak_rss_of(
        "import embedrec\n"
        f"r = embedrec.load_ratings({str(args.data)!r})\n"
        f"embedrec.train(r, model='ials', n_factors={K}, epochs=1, threads={args.threads})"
    )
    print(f"load + 1 ials iteration in a fresh process: peak RSS {peak:.2f} GiB")


if __name__ == "__main__":
    main()
