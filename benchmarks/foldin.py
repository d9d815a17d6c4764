"""New users folded in without retraining: RMSE on users the model never saw, by ridge strength.

100 users (seed 1) are taken out of MovieLens 100k entirely; the model trains on everyone else.
Each held-out user is folded in from 80% of their ratings (seeded) and scored on the other 20%.
This is how the kinds' `FOLD_IN_REG` (models/dot.py, models/nn.py) was chosen: on users outside
the training data, never on a test fold.

python benchmarks/foldin.py [--data PATH_OR_NAME] [--models dot-bias bmf] [--regs 1 5 20]
"""

from __future__ import annotations

import argparse

import numpy as np

import embedrec


def held_out_users(ratings, n_users: int, seed: int):
    rng = np.random.default_rng(seed)
    chosen = rng.choice(ratings.n_users, n_users, replace=False)
    held = np.isin(ratings.users, chosen)
    return ratings.subset(~held), ratings.subset(held), chosen, rng


def predict_new(rec, given: dict, wanted, reg: float) -> np.ndarray:
    """Ratings of `wanted` for a new user folded in from `given` at ridge strength `reg`."""
    folded = rec.fold_in(given, reg=reg)
    return rec.score_folded(folded)[[rec.item_index(i) for i in wanted]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--models", nargs="+", default=["dot-bias", "bmf"])
    parser.add_argument("--regs", type=float, nargs="+", default=[0.3, 1, 3, 5, 10, 20])
    args = parser.parse_args()
    ratings = embedrec.load_ratings(args.data)
    train_side, held, chosen, rng = held_out_users(ratings, 100, seed=1)
    trained = np.bincount(train_side.items, minlength=ratings.n_items) > 0
    users = []
    for user in chosen:
        rows = np.flatnonzero(held.users == user)
        rng.shuffle(rows)
        cut = int(0.8 * len(rows))
        hidden = rows[cut:]
        users.append((rows[:cut], hidden[trained[held.items[hidden]]]))  # items the model knows
    item_ids = ratings.item_map.decode(np.arange(ratings.n_items))
    print("| model | " + " | ".join(f"reg {r:g}" for r in args.regs) + " |")
    print("|---|" + "---|" * len(args.regs))
    for model in args.models:
        rec = embedrec.train(train_side, model=model)
        cells = []
        for reg in args.regs:
            errors = []
            for known, hidden in users:
                given = {
                    item_ids[i]: float(r) for i, r in zip(held.items[known], held.ratings[known])
                }
                wanted = item_ids[held.items[hidden]]
                predicted = predict_new(rec, given, wanted, reg)
                errors.append(predicted - held.ratings[hidden])
            cells.append(f"{np.sqrt(np.mean(np.concatenate(errors) ** 2)):.4f}")
        print(f"| {model} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
