"""MSE against cross-entropy (classification over the rating values, predicting the expected
rating) for the chapter's neural model, on the same splits.

    python benchmarks/losses.py [--data movielens-100k] [--seeds 42 1 2]

Prints valid RMSE and MAE of each loss per seed and their means, as a Markdown table.
"""

from __future__ import annotations

import argparse

import numpy as np

import embedrec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    args = parser.parse_args()
    ratings = embedrec.load_ratings(args.data)
    print(
        "| loss | " + " | ".join(f"seed {s} RMSE" for s in args.seeds) + " | mean RMSE | mean MAE |"
    )
    print("|---|" + "---|" * (len(args.seeds) + 2))
    for loss in ("mse", "cross-entropy"):
        rmse, mae = [], []
        for seed in args.seeds:
            split = embedrec.random_split(ratings, 0.2, seed)
            rec = embedrec.train(split, model="nn", loss=loss, seed=seed, device="cpu")
            metrics = embedrec.evaluate(rec, split.valid)
            rmse.append(metrics["rmse"])
            mae.append(metrics["mae"])
        cells = " | ".join(f"{x:.4f}" for x in rmse)
        print(f"| {loss} | {cells} | {np.mean(rmse):.4f} | {np.mean(mae):.4f} |", flush=True)


if __name__ == "__main__":
    main()
