"""How ease should invert X^T X + l2 I, timed: LAPACK's inverse from the Cholesky factor
(`torch.cholesky_inverse`, potri) on one thread and on every thread, against the two
triangular products (L^-1 by a triangular solve, then (L^-1)^T L^-1). Run it on an idle
machine and again beside busy processes: potri's threads are what a busy CPU punishes.

python benchmarks/ease_solve.py [--items 3000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch


def timed(step: Callable[[], object], threads: int) -> float:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        step()
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    n, every = args.items, torch.get_num_threads()
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, dtype=torch.float64, generator=generator)
    gram = a @ a.T / n
    gram.diagonal().add_(1.0)
    factor = torch.linalg.cholesky(gram)

    def triangular() -> None:
        inverse_factor = torch.linalg.solve_triangular(
            factor, torch.eye(n, dtype=torch.float64), upper=False
        )
        torch.mm(inverse_factor.T, inverse_factor)

    steps = {
        "potri, 1 thread": (lambda: torch.cholesky_inverse(factor), 1),
        f"potri, {every} threads": (lambda: torch.cholesky_inverse(factor), every),
        f"triangular products, {every} threads": (triangular, every),
    }
    for name, (step, threads) in steps.items():
        seconds = [timed(step, threads) for _ in range(args.repeats)]
        print(f"{name:>32}: {min(seconds):6.2f} s (best of {args.repeats}, {n:,} items)")


if __name__ == "__main__":
    main()
