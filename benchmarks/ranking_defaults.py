"""How the ranking defaults were chosen: the ranker's settings and the blend weight, scored only
on validation sets carved from the training side of the ML-100k protocols (10% of u1.base, 10%
of the chapter split's training 80%, seed 7), never on a test fold. Relevant: a held-out rating
>= 4; candidates: every item the user did not rate in the carved training side.

python benchmarks/ranking_defaults.py [--data PATH_OR_NAME] [--k 10]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

import embedrec
from embedrec.data import load_movielens_fold, split_from_spec
from embedrec.models import Ranked

RANKERS = [  # (model, options)
    ("ease", {"l2": 250.0}),
    ("ease", {"l2": 500.0}),
    ("ease", {"l2": 1000.0}),
    ("ease", {"l2": 250.0, "min_rating": 3.0}),
    ("ease", {"l2": 500.0, "min_rating": 3.0}),
    ("ials", {"reg": 0.005, "alpha0": 0.1}),
    ("ials", {"reg": 0.01, "alpha0": 0.3}),
    ("ials", {"reg": 0.01, "alpha0": 1.0}),
    ("ials", {"reg": 0.02, "alpha0": 1.0}),
]
BLENDS = [0.0, 0.25, 0.5, 0.75, 1.0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    outer = {
        "u1.base": load_movielens_fold(args.data, "u1"),
        "chapter train": split_from_spec(embedrec.load_ratings(args.data), "random:0.2:42"),
    }
    carved = {name: embedrec.random_split(s.train, 0.1, 7) for name, s in outer.items()}
    rating = {name: embedrec.train(s.train, ranker=None) for name, s in carved.items()}
    k = args.k
    header = " | ".join(f"{name} p@{k} / ndcg@{k}" for name in carved)
    print(f"| ranker | options | blend | {header} |")
    print("|---|---|---|" + "---|" * len(carved))
    for model, options in RANKERS:
        rankers = {
            name: embedrec.train(s.train, model=model, options=options, ranker=None)
            for name, s in carved.items()
        }
        for blend in BLENDS:
            cells = []
            for name, split in carved.items():
                both = Ranked(rating[name].model, rankers[name].model, blend)
                rec = replace(rating[name], model=both)
                metrics = embedrec.evaluate_ranking(rec.score_items, split.train, split.valid, k=k)
                cells.append(f"{metrics[f'precision@{k}']:.4f} / {metrics[f'ndcg@{k}']:.4f}")
            mean = np.mean([float(c.split(" / ")[1]) for c in cells])
            print(f"| {model} | {options} | {blend} | {' | '.join(cells)} | <!-- {mean:.4f} -->")


if __name__ == "__main__":
    main()
