"""The fastai chapter's table on MovieLens 100k, with the chapter's recipe.

Random 20% validation (seed 42), batch 64, 5 epochs of one-cycle at lr 5e-3, 50 factors, on
the PyTorch engine (Adam, as fastai); prints valid MSE (the loss fastai reports as
valid_loss), valid RMSE (clipped to 1..5) and seconds per model next to fastai's figures, as a
Markdown table for BENCHMARKS.md.

    python benchmarks/seed_chapter.py [--data PATH_OR_NAME]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

import embedrec

# name, train() options, fastai notebook valid MSE, printed book valid MSE
RUNS = [
    ("DotProduct", dict(model="dot", y_range=None, wd=0.0), 0.866, 0.884),
    ("DotProduct, y_range (0, 5.5)", dict(model="dot", y_range=(0, 5.5), wd=0.0), 0.862, 0.878),
    (
        "DotProductBias, y_range, wd 0",
        dict(model="dot-bias", y_range=(0, 5.5), wd=0.0),
        0.878,
        0.893,
    ),
    (
        "DotProductBias, y_range, wd 0.1",
        dict(model="dot-bias", y_range=(0, 5.5), wd=0.1),
        0.811,
        0.823,
    ),
    (
        "EmbeddingNN [100, 50], wd 0.1",
        # fastai's get_emb_sz widths, as the chapter's collab_learner(use_nn=True) takes them
        dict(model="nn", layers=[100, 50], y_range=(0, 5.5), wd=0.1, n_factors=None),
        0.844,
        0.865,
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    split = embedrec.load_split(args.data, valid_pct=0.2, seed=args.seed)
    print(f"<!-- {split.describe()} -->")
    print(
        f"<!-- torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()} -->"
    )
    print("| model | valid MSE | valid RMSE | seconds | fastai notebook MSE | book MSE |")
    print("|---|---|---|---|---|---|")
    for name, options, notebook, book in RUNS:
        start = time.perf_counter()
        rec = embedrec.train(
            split,
            epochs=5,
            lr=5e-3,
            bs=64,
            **{"n_factors": 50, **options},
            seed=args.seed,
            device="cpu",
            engine="torch",
        )
        seconds = time.perf_counter() - start
        metrics = embedrec.evaluate(rec, split.valid)
        print(
            f"| {name} | {metrics['loss']:.3f} | {metrics['rmse']:.3f} | {seconds:.1f} | "
            f"{notebook:.3f} | {book:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
