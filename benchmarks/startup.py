"""Start-up as a user meets it: wall and CPU seconds of `embedrec --help`, `embedrec train
--help` and `embedrec recommend MODEL --user 1`, each a fresh process, the best and the median
of `--runs` calls after one warm-up call (numba's and Python's caches on disk are warm then).

python benchmarks/startup.py --model DIR [--runs 5]

DIR: a saved model, e.g. the README's `embedrec train --data movielens-100k --out DIR`.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time


def measure(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + system) of one run of `command` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a saved model folder")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    embedrec = [sys.executable, "-m", "embedrec"]
    commands = {
        "embedrec --help": [*embedrec, "--help"],
        "embedrec train --help": [*embedrec, "train", "--help"],
        "embedrec recommend MODEL --user 1": [*embedrec, "recommend", args.model, "--user", "1"],
    }
    print("| command | wall best | wall median | CPU best | CPU median |")
    print("|---|---|---|---|---|")
    for name, command in commands.items():
        measure(command)  # warm-up: caches on disk
        runs = [measure(command) for _ in range(args.runs)]
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(
            f"| `{name}` | {min(walls):.2f} s | {statistics.median(walls):.2f} s "
            f"| {min(cpus):.2f} s | {statistics.median(cpus):.2f} s |"
        )


if __name__ == "__main__":
    main()
