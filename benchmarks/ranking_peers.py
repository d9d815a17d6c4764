"""Top-N lists side by side with the peer library: implicit's ALS and BPR and embedrec's models,
on the same splits in the same run, full ranking over every unseen item.

Relevant = a test rating >= 4; candidates = every item the user did not rate in training.
implicit is installed in the benchmark environment only (`pip install implicit`), never a
dependency of embedrec. Its settings are the ranking issue's (each at its best case there).

python benchmarks/ranking_peers.py [--data PATH_OR_NAME] [--k 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares
from implicit.bpr import BayesianPersonalizedRanking

import embedrec
from embedrec.data import load_movielens_fold, split_from_spec

Scorer = Callable[[np.ndarray], np.ndarray]
NAMES = ["precision", "recall", "ndcg", "map", "hit_rate", "coverage"]


def user_items(train: embedrec.Ratings) -> sp.csr_matrix:
    ones = np.ones(len(train), dtype=np.float32)
    return sp.csr_matrix((ones, (train.users, train.items)), shape=(train.n_users, train.n_items))


def implicit_scorer(model, matrix: sp.csr_matrix) -> Scorer:
    model.fit(matrix, show_progress=False)
    users, items = np.asarray(model.user_factors), np.asarray(model.item_factors)
    return lambda rows: users[rows] @ items.T


def systems(split: embedrec.Split, threads: int) -> dict[str, Callable[[], Scorer]]:
    """Each system as a function that trains it and returns its scorer."""
    matrix = user_items(split.train)
    return {
        "most popular": lambda: embedrec.popularity_scores(split.train),
        "implicit 0.7 ALS (64 factors, reg 0.05, alpha 1, 15 it)": lambda: implicit_scorer(
            AlternatingLeastSquares(
                factors=64,
                regularization=0.05,
                alpha=1.0,
                iterations=15,
                random_state=42,
                num_threads=threads,
            ),
            matrix,
        ),  # fmt: skip
        "implicit 0.7 BPR (64 factors, lr 0.01, 100 it)": lambda: implicit_scorer(
            BayesianPersonalizedRanking(
                factors=64,
                learning_rate=0.01,
                iterations=100,
                random_state=42,
                num_threads=threads,
            ),
            matrix,
        ),  # fmt: skip
        "embedrec ease (l2 500)": lambda: (
            embedrec.train(split.train, model="ease", threads=threads).score_items
        ),
        "embedrec ials (defaults)": lambda: (
            embedrec.train(split.train, model="ials", threads=threads).score_items
        ),
        "**embedrec default** (bmf + ease, blend 0.5)": lambda: (
            embedrec.train(split.train, threads=threads).score_items
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    k = args.k
    splits = {
        "ml100k-u1": load_movielens_fold(args.data, "u1"),
        "chapter split (random 20%, seed 42)": split_from_spec(
            embedrec.load_ratings(args.data), "random:0.2:42"
        ),
    }
    for title, split in splits.items():
        print(f"\n{title}\n")
        print("| system | " + " | ".join(f"{n}@{k}" for n in NAMES) + " | seconds |")
        print("|---|" + "---|" * (len(NAMES) + 1))
        for name, fit in systems(split, args.threads).items():
            start = time.perf_counter()
            scorer = fit()
            metrics = embedrec.evaluate_ranking(scorer, split.train, split.valid, k=k)
            cells = " | ".join(f"{metrics[f'{n}@{k}']:.4f}" for n in NAMES)
            print(f"| {name} | {cells} | {time.perf_counter() - start:.1f} |", flush=True)


if __name__ == "__main__":
    main()
