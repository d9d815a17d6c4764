"""The two engines on the chapter's recipe over several seeds of the random 20% split.

python benchmarks/engines.py [--data PATH_OR_NAME] [--seeds 1 2 3 42]
"""

from __future__ import annotations

import argparse

import numpy as np

import embedrec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 42])
    args = parser.parse_args()
    ratings = embedrec.load_ratings(args.data)
    results: dict[str, list[float]] = {"torch": [], "fused": []}
    for seed in args.seeds:
        split = embedrec.random_split(ratings, 0.2, seed)
        for engine, scores in results.items():
            rec = embedrec.train(
                split, model="dot-bias", engine=engine, seed=seed
            )  # chapter recipe
            scores.append(embedrec.evaluate(rec, split.valid)["rmse"])
    print("| engine | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean |")
    print("|---|" + "---|" * (len(args.seeds) + 1))
    for engine, scores in results.items():
        cells = " | ".join(f"{x:.4f}" for x in scores)
        print(f"| {engine} | {cells} | {np.mean(scores):.4f} |")


if __name__ == "__main__":
    main()
