"""How bpr's defaults were chosen: a small grid of weight decay and epochs (batch 1024, lr 1e-2,
64 factors, one thread), scored only on validation carved from the training side of ML-100k u1
(10% of u1.base, seed 7), never on the test fold. Relevant: a held-out rating >= 4;
candidates: every item the user did not rate in the carved training side.

python benchmarks/bpr_defaults.py [--data PATH_OR_NAME] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import time

import embedrec
from embedrec.data import load_movielens_fold

WDS = (0.03, 0.1, 0.3)
EPOCHS = (20, 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    carved = embedrec.random_split(
        load_movielens_fold(args.data, "u1", args.data_dir).train, 0.1, 7
    )
    popular = embedrec.popularity_scores(carved.train)
    base = embedrec.evaluate_ranking(popular, carved.train, carved.valid, k=10)
    print("| wd | epochs | p@10 | ndcg@10 | seconds |\n|---|---|---|---|---|")
    print(f"| most popular | | {base['precision@10']:.4f} | {base['ndcg@10']:.4f} | |")
    for wd, epochs in itertools.product(WDS, EPOCHS):
        start = time.perf_counter()
        rec = embedrec.train(
            carved.train, model="bpr", bs=1024, lr=1e-2, wd=wd, epochs=epochs, threads=1
        )
        seconds = time.perf_counter() - start
        m = embedrec.evaluate_ranking(rec.score_items, carved.train, carved.valid, k=10)
        print(f"| {wd} | {epochs} | {m['precision@10']:.4f} | {m['ndcg@10']:.4f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
