"""The test suite beside a busy machine: `--spinners` pure-Python spin loops (default 2, each
holding a core, so that with the suite's two workers the load is about 4 on two cores) run while
the given pytest command does; prints pytest's wall and CPU seconds, its passed / failed /
skipped counts, the mean and range of the 1-minute load average sampled during the run, and
the durations pytest printed.

python benchmarks/suite_under_load.py [--spinners 2] [--every 5] [-- PYTEST ARGS...]

Without PYTEST ARGS it runs the whole suite as the README's test command does: `python -m
pytest -q -n auto --dist loadfile -p no:cacheprovider --durations=25`. Given, they replace
everything after `python -m pytest`, e.g. `-- -q tests/test_ranking.py`; add `-p
benchmarks.cpu_per_test` for each test's CPU seconds (one process: it reads no xdist worker).
Run from the repository's root.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import threading
import time

DEFAULT_ARGS = ["-q", "-n", "auto", "--dist", "loadfile", "-p", "no:cacheprovider"]
DEFAULT_ARGS += ["--durations=25"]
SPIN = "while True: pass"
COUNTS = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


def load_average() -> float:
    """The 1-minute load average, as the kernel keeps it."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class LoadSampler(threading.Thread):
    """Reads the 1-minute load average every `every` seconds until stopped."""

    def __init__(self, every: float):
        super().__init__(daemon=True)
        self.every, self.samples = every, [load_average()]
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.samples.append(load_average())


def table(output: str, heading: str) -> list[str]:
    """The lines of the table pytest printed under the `=== ... heading ... ===` line: its
    `slowest N durations`, or `CPU seconds per test` (benchmarks/cpu_per_test.py)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if heading in line), None)
    if start is None:
        return []
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip() or line.startswith("=") or COUNTS.match(line):  # the summary
            break
        rows.append(line)
    return rows


def counts(output: str) -> dict[str, int]:
    """passed / failed / skipped... from pytest's last summary line."""
    summary = next((line for line in reversed(output.splitlines()) if " in " in line), "")
    return {kind: int(n) for n, kind in COUNTS.findall(summary)}


def run_suite(pytest_args: list[str], every: float) -> tuple[float, float, str, list[float]]:
    """(wall seconds, CPU seconds of pytest and what it waited for, its output, load samples)."""
    sampler = LoadSampler(every)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    sampler.start()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wall = time.perf_counter() - start
    sampler.stopped.set()
    sampler.join()
    sampler.samples.append(load_average())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.stdout, sampler.samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spinners", type=int, default=2, help="spin loops beside the suite")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between load samples")
    parser.add_argument(
        "--settle", type=float, default=15.0, help="seconds the loops run before pytest starts"
    )
    parser.add_argument("pytest_args", nargs="*", help="after `--`: pytest's arguments")
    args = parser.parse_args()
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.spinners)]
    try:
        time.sleep(args.settle if spinners else 0)
        wall, cpu, output, loads = run_suite(args.pytest_args or DEFAULT_ARGS, args.every)
    finally:
        for spinner in spinners:
            spinner.terminate()
        for spinner in spinners:
            spinner.wait()
    found = counts(output)
    print(f"pytest {' '.join(args.pytest_args or DEFAULT_ARGS)}")
    print(f"beside {args.spinners} spin loop(s); wall {wall:.0f} s, CPU {cpu:.0f} s")
    print(", ".join(f"{n} {kind}" for kind, n in found.items()) or "no summary line")
    print(
        f"1-minute load average over {len(loads)} samples: mean {statistics.mean(loads):.2f}, "
        f"range {min(loads):.2f}-{max(loads):.2f}"
    )
    for heading in ("slowest", "CPU seconds per test"):
        rows = table(output, heading)
        if rows:
            print(f"{heading}:", *rows, sep="\n")
    if not found or found.get("failed") or found.get("error") or found.get("errors"):
        # what failed and why: pytest's FAILURES / ERRORS sections (their last 20,000
        # characters), else the end of its output
        start = min((i for i in (output.find("= FAILURES ="), output.find("= ERRORS =")) if i >= 0),
                    default=-1)  # fmt: skip
        print(output[start:][-20000:] if start >= 0 else output[-3000:])
        sys.exit(1)


if __name__ == "__main__":
    main()
