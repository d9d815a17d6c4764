"""Gibbs sweeps of the default bmf at MovieLens-25M scale against the issue's yardstick, one plain
random-order Hogwild SGD epoch (k=64, `speed.plain_hogwild_epoch`) over the same file, in the
same run: seconds per sweep, the ratio, and the peak RSS of the bmf part.

python benchmarks/bmf_speed.py --data synthetic-ml25m.parquet [--sweeps 3] [--threads 2] [--phases]
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
from embedrec.training import gibbs_kernels
from embedrec.training.gibbs import fit_gibbs


def peak_rss_gib() -> float:
    """This process's peak resident set (VmHWM; a forked child inherits ru_maxrss)."""
    with open("/proc/self/status") as status:
        return int(status.read().split("VmHWM:")[1].split()[0]) / 2**20


PHASES = {  # the sampler's kernels, by what they do in a sweep
    "squared_residuals": "noise: residuals summed per row",
    "sample_own": "own rows P and Q given Y and Z (parallel)",
    "implicit_pass": "implicit rows Y and Z given U and I, one after another",
    "implicit_sums": "implicit sums and own rows afresh (parallel)",
}


def timed_phases() -> dict[str, float]:
    """Wrap each kernel of `gibbs_kernels` in a timer (the sampler calls them through the
    module, so the wrappers see every call); seconds accumulate in the returned dict."""
    seconds = dict.fromkeys(PHASES, 0.0)

    def timed(name: str, kernel):
        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return kernel(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - start

        return call

    for name in PHASES:
        setattr(gibbs_kernels, name, timed(name, getattr(gibbs_kernels, name)))
    return seconds


def bmf_part(data: str, sweeps: int, rank: int, phases: bool) -> None:
    """Load and sample; print one JSON line (seconds per sweep, peak RSS, and with `phases`
    the seconds per sweep of each kernel)."""
    r = embedrec.load_ratings(data)
    per_phase = timed_phases() if phases else {}
    start = time.perf_counter()
    _, history = fit_gibbs(
        r.users, r.items, r.ratings, r.n_users, r.n_items, n_factors=rank, epochs=sweeps
    )
    total = time.perf_counter() - start
    seconds = [h.seconds for h in history]
    per_sweep = {name: value / sweeps for name, value in per_phase.items()}
    print(json.dumps({"total": total, "sweeps": seconds, "peak_rss": peak_rss_gib(),
                      "phases": per_sweep}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic-ml25m.parquet")
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--part", choices=["all", "bmf"], default="all")
    parser.add_argument(
        "--phases", action="store_true", help="also time each kernel (seconds per sweep)"
    )
    args = parser.parse_args()
    if args.threads is not None:
        numba.set_num_threads(args.threads)
    if args.part == "bmf":
        bmf_part(args.data, args.sweeps, args.rank, args.phases)
        return
    r = embedrec.load_ratings(args.data)
    print(f"{r}; threads {numba.get_num_threads()}", flush=True)
    before = reference_epoch(r)
    print(f"plain random-order Hogwild SGD epoch (k=64): {before:.2f} s", flush=True)
    child = [sys.executable, __file__, "--data", args.data, "--part", "bmf"]
    child += ["--sweeps", str(args.sweeps), "--rank", str(args.rank)]
    child += ["--threads", str(numba.get_num_threads())] + ["--phases"] * args.phases
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
    for name, seconds in bmf["phases"].items():
        print(f"  {PHASES[name]:<56} {seconds:6.2f} s a sweep")


if __name__ == "__main__":
    main()
