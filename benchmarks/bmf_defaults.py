"""How bmf's defaults were chosen: a grid scored only on validation sets carved from the
training side of the ML-100k protocols (10% of u1.base, 10% of the chapter split's training
80%), never on a test fold.

python benchmarks/bmf_defaults.py [--data PATH_OR_NAME] [--sweeps 100]
"""

from __future__ import annotations

import argparse
import time

import embedrec
from embedrec.data import load_movielens_fold, split_from_spec

GRID = [  # rank, implicit, robust
    (10, False, False),
    (10, True, False),
    (10, False, True),
    (6, True, True),
    (10, True, True),
    (16, True, True),
    (24, True, True),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--sweeps", type=int, default=100)
    args = parser.parse_args()
    outer = {
        "u1.base": load_movielens_fold(args.data, "u1"),
        "chapter train": split_from_spec(embedrec.load_ratings(args.data), "random:0.2:42"),
    }
    carved = {name: embedrec.random_split(s.train, 0.1, 7) for name, s in outer.items()}
    print("| rank | implicit | robust | " + " | ".join(f"10% of {n}" for n in carved) + " | s |")
    print("|---|---|---|" + "---|" * (len(carved) + 1))
    for rank, implicit, robust in GRID:
        start = time.perf_counter()
        scores = [
            embedrec.evaluate(
                embedrec.train(
                    split,
                    model="bmf",
                    n_factors=rank,
                    epochs=args.sweeps,
                    implicit=implicit,
                    robust=robust,
                    ranker=None,
                ),
                split.valid,
            )["rmse"]
            for split in carved.values()
        ]
        seconds = (time.perf_counter() - start) / len(carved)
        cells = " | ".join(f"{x:.4f}" for x in scores)
        print(f"| {rank} | {implicit} | {robust} | {cells} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
