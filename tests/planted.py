"""Data with a planted taste structure a ranking model can learn and popularity cannot: users
in groups, each choosing most of their items from their own group's block of the catalogue."""

from dataclasses import replace

import numpy as np
import pandas as pd

from embedrec import Split, random_split, ratings_from_frame


def taste_groups(
    n_users: int = 90, n_items: int = 60, groups: int = 3, seed: int = 3, interactions=False
) -> Split:
    """A 80/20 random split of the choices (ratings 1-5 drawn at random; with `interactions`,
    a table of choices whose every held-out row is relevant)."""
    rng = np.random.default_rng(seed)
    users, items = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    own = users % groups == items % groups
    chosen = rng.random(users.shape) < np.where(own, 0.5, 0.04)
    frame = pd.DataFrame(
        {
            "user": users[chosen],
            "item": items[chosen],
            "rating": rng.integers(1, 6, int(chosen.sum())),
        }
    )
    ratings = ratings_from_frame(frame, rating_scale=(1, 5))
    if interactions:
        ratings = replace(ratings, interactions=True)
    return random_split(ratings, 0.2, 1)
