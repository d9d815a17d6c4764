"""The chapter's models on both engines: valid MSE of each recipe trained by the PyTorch engine
and by the fused numba engine, and the engine `engine="auto"` picks for it on a CPU.

The chapter's recipe throughout (random 20% validation, batch 64, 5 epochs of one-cycle at
5e-3, 50 factors); `auto` is meant to pick, for each model kind, an engine within 0.01 valid
MSE of the PyTorch engine (fastai's own optimiser, Adam).

    python benchmarks/engines.py [--data PATH_OR_NAME] [--seeds 42 1 2]
"""

from __future__ import annotations

import argparse

import numpy as np

import embedrec

RUNS = [
    ("DotProduct", dict(model="dot", y_range=None, wd=0.0)),
    ("DotProduct, y_range (0, 5.5)", dict(model="dot", y_range=(0, 5.5), wd=0.0)),
    ("DotProductBias, y_range, wd 0", dict(model="dot-bias", y_range=(0, 5.5), wd=0.0)),
    ("DotProductBias, y_range, wd 0.1", dict(model="dot-bias", y_range=(0, 5.5), wd=0.1)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    args = parser.parse_args()
    ratings = embedrec.load_ratings(args.data)
    print("| model | torch MSE | fused MSE | fused - torch | auto picks |")
    print("|---|---|---|---|---|")
    for name, options in RUNS:
        mse: dict[str, list[float]] = {"torch": [], "fused": []}
        picked = ""
        for seed in args.seeds:
            split = embedrec.random_split(ratings, 0.2, seed)
            for engine in mse:
                try:
                    rec = embedrec.train(
                        split, **options, engine=engine, seed=seed, device="cpu", epochs=5, lr=5e-3
                    )
                except embedrec.ModelError:  # the fused engine refuses a linear output
                    mse[engine].append(float("nan"))
                    continue
                mse[engine].append(embedrec.evaluate(rec, split.valid)["loss"])
            picked = embedrec.train(split, **options, epochs=1, device="cpu").engine
        torch_mse, fused_mse = float(np.mean(mse["torch"])), float(np.mean(mse["fused"]))
        print(
            f"| {name} | {torch_mse:.4f} | {fused_mse:.4f} | {fused_mse - torch_mse:+.4f} "
            f"| {picked} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
