"""Top-10 ranking metrics on MovieLens 100k's canonical u1 fold.

Relevant = test ratings >= 4; each user's u1.base items are excluded from the candidates; users
with no relevant test item are left out. Models trained with the chapter's recipe (5 epochs,
lr 5e-3, batch 64, wd 0.1, PyTorch engine) against the popularity baseline.

    python benchmarks/ranking.py [--data PATH_OR_NAME] [--k 10]
"""

from __future__ import annotations

import argparse
import time

import embedrec
from embedrec.evaluation import evaluate_ranking, popularity_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    split = embedrec.load_split(args.data, "u1")
    k = args.k
    names = ["precision", "recall", "ndcg", "map", "hit_rate", "coverage"]
    print("| model | valid RMSE | " + " | ".join(f"{n}@{k}" for n in names) + " | seconds |")
    print("|---|---|" + "---|" * len(names) + "---|")
    rows = [
        ("popularity", None),
        ("dot-bias", dict(model="dot-bias")),
        ("nn [100, 50]", dict(model="nn", layers=[100, 50])),
    ]
    evaluation_seconds = []
    for name, options in rows:
        start = time.perf_counter()
        if options is None:
            score, rmse = popularity_scores(split.train), float("nan")
        else:
            rec = embedrec.train(
                split, epochs=5, lr=5e-3, bs=64, wd=0.1, seed=42, engine="torch", **options
            )
            score, rmse = rec.score_items, embedrec.evaluate(rec, split.valid)["rmse"]
        evaluated = time.perf_counter()
        metrics = evaluate_ranking(score, split.train, split.valid, k=k)
        seconds = time.perf_counter() - start
        evaluation_seconds.append(time.perf_counter() - evaluated)
        cells = " | ".join(f"{metrics[f'{n}@{k}']:.4f}" for n in names)
        rmse_cell = "-" if rmse != rmse else f"{rmse:.4f}"
        print(f"| {name} | {rmse_cell} | {cells} | {seconds:.1f} |", flush=True)
    print(
        f"<!-- {metrics['n_users']} users with a relevant test item; ranking evaluation "
        f"alone took {', '.join(f'{x:.3f}' for x in evaluation_seconds)} s -->"
    )


if __name__ == "__main__":
    main()
