"""Gibbs sweeps of the default bmf at MovieLens-25M scale: seconds per sweep and peak memory.

python benchmarks/bmf_speed.py --data synthetic-ml25m.parquet [--sweeps 3]
(`embedrec synth --preset ml-25m --out synthetic-ml25m.parquet` writes the file.)
"""

from __future__ import annotations

import argparse
import time

import numba

import embedrec
from embedrec.training.gibbs import fit_gibbs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic-ml25m.parquet")
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--rank", type=int, default=10)
    args = parser.parse_args()
    r = embedrec.load_ratings(args.data)
    print(f"{r}; threads {numba.get_num_threads()}", flush=True)
    start = time.perf_counter()
    _, history = fit_gibbs(
        r.users, r.items, r.ratings, r.n_users, r.n_items, n_factors=args.rank, epochs=args.sweeps
    )
    total = time.perf_counter() - start
    steady = [h.seconds for h in history[1:]] or [history[0].seconds]
    peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 2**20
    print(
        f"rank {args.rank}, {args.sweeps} sweeps in {total:.1f} s (first sweep "
        f"{history[0].seconds:.1f} s, then {sum(steady) / len(steady):.1f} s per sweep); "
        f"peak RSS {peak:.2f} GiB"
    )


if __name__ == "__main__":
    main()
