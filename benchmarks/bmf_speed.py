"""Gibbs sweeps of the default bmf at MovieLens-25M scale against the issue's yardstick, one plain
random-order Hogwild SGD epoch (k=64, `speed.plain_hogwild_epoch`) over the same file, in the
same run: seconds per sweep, the ratio, and the peak RSS of the bmf part.

python benchmarks/bmf_speed.py --data synthetic-ml25m.parquet [--sweeps 3] [--threads 2]
(`embedrec synth --preset ml-25m --out synthetic-ml25m.parquet` writes the file.)

The bmf part runs in a fresh process (this script with `--part bmf`), so its peak RSS (VmHWM)
counts the load and the sampler only; the SGD epoch runs in this process before and after it,
and the ratio is taken against their mean, so that a machine whose speed drifts during the run
(a shared one) moves both sides alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numba
from speed import reference_epoch

import embedrec
from embedrec.training.gibbs import fit_gibbs


def peak_rss_gib() -> float:
    """This process's peak resident set (VmHWM; a forked child inherits ru_maxrss)."""
    with open("/proc/self/status") as status:
        return int(status.read().split("VmHWM:")[1].split()[0]) / 2**20


def bmf_part(data: str, sweeps: int, rank: int) -> None:
    """Load and sample; print one JSON line (seconds per sweep, peak RSS)."""
    r = embedrec.load_ratings(data)
    start = time.perf_counter()
    _, history = fit_gibbs(
        r.users, r.items, r.ratings, r.n_users, r.n_items, n_factors=rank, epochs=sweeps
    )
    total = time.perf_counter() - start
    seconds = [h.seconds for h in history]
    print(json.dumps({"total": total, "sweeps": seconds, "peak_rss": peak_rss_gib()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic-ml25m.parquet")
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--part", choices=["all", "bmf"], default="all")
    args = parser.parse_args()
    if args.threads is not None:
        numba.set_num_threads(args.threads)
    if args.part == "bmf":
        bmf_part(args.data, args.sweeps, args.rank)
        return
    r = embedrec.load_ratings(args.data)
    print(f"{r}; threads {numba.get_num_threads()}", flush=True)
    before = reference_epoch(r)
    print(f"plain random-order Hogwild SGD epoch (k=64): {before:.2f} s", flush=True)
    child = [sys.executable, __file__, "--data", args.data, "--part", "bmf"]
    child += ["--sweeps", str(args.sweeps), "--rank", str(args.rank)]
    child += ["--threads", str(numba.get_num_threads())]
    out = subprocess.run(child, capture_output=True, text=True, check=True).stdout
    bmf = json.loads(out.strip().splitlines()[-1])
    after = reference_epoch(r)
    print(f"plain random-order Hogwild SGD epoch (k=64), again: {after:.2f} s", flush=True)
    sweeps = bmf["sweeps"]
    steady = statistics.median(sweeps[1:] or sweeps)
    sgd = (before + after) / 2
    print(
        f"bmf rank {args.rank}, {args.sweeps} sweeps in {bmf['total']:.1f} s (sweeps "
        f"{', '.join(f'{s:.1f}' for s in sweeps)} s; steady {steady:.2f} s per sweep); "
        f"peak RSS of the bmf process {bmf['peak_rss']:.2f} GiB\n"
        f"one bmf sweep / one Hogwild SGD epoch: {steady / sgd:.2f}x"
    )


if __name__ == "__main__":
    main()
