"""Interaction weights: a table of plays, clicks or purchases, read as which items each user chose.

A table without ratings loads as interactions (`Ratings.interactions`, `ratings` holding each
row's weight). How `embedrec.data.validate` tells, and what it does with the weights:

- the weight is the column named (`weight_col=`, `--weight-col`), else one named like a count
  (weight, count, plays, clicks, views, purchases, quantity: `COLUMN_GUESSES["weight"]`); a
  table of id columns only (with a timestamp or a title, or neither) weighs each row 1. A
  column named like a rating (rating, score, stars) keeps the table ratings, and any other
  column it cannot place is an error asking which it is, never a guess;
- a weight is a finite number of at least 0, else a `DataError` naming the file, line and
  column; a row of weight 0 records no interaction and is dropped (said in the notes);
- a (user, item) pair on several rows (a shop's repeated orders, a log of plays) is one
  interaction: the weights are summed and the latest timestamp kept (said in the notes), where
  ratings keep the last row, since a rating given again replaces the first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embedrec.data.encode import duplicate_rows
from embedrec.data.files import Where
from embedrec.errors import DataError


def check_weights(weights: np.ndarray, name: str, where: Where) -> None:
    """Every weight (already a finite number) at least 0; DataError naming the first row that
    is not."""
    negative = np.flatnonzero(weights < 0)
    if len(negative):
        row = int(negative[0])
        raise DataError(
            f"{where.row(row)}: field {name!r} is {weights[row]:g}, a negative weight; a weight "
            f"counts plays, clicks or purchases, so is at least 0 ({len(negative)} such rows)"
        )


def without_empty(weights: np.ndarray, where: Where) -> tuple[np.ndarray | None, list[str]]:
    """Mask of the rows to keep (None: all) and the note saying how many rows of weight 0 were
    dropped; DataError when no row is left."""
    empty = weights == 0
    if not empty.any():
        return None, []
    if empty.all():
        raise DataError(f"{where.source}: every weight is 0, so no user chose any item")
    return ~empty, [f"{int(empty.sum())} rows of weight 0 dropped (a count of 0 is no interaction)"]


def merged_interactions(
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    timestamps: np.ndarray | None,
    n_users: int,
    n_items: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, list[str]]:
    """Each repeated (user, item) pair made one row (at its last row's place) holding the sum of
    its weights and its latest timestamp; with the note that says so, if any pair repeats."""
    repeated = duplicate_rows(users, items, n_users, n_items)
    if not repeated.any():
        return users, items, weights, timestamps, []
    keys = users.astype(np.int64) * n_items + items
    kept = ~repeated
    # each row's place among the kept rows: the last row of its pair
    place = pd.Index(keys[kept]).get_indexer(keys)
    total = np.bincount(place, weights=weights, minlength=int(kept.sum()))
    note = (
        f"{int(repeated.sum())} repeated (user, item) rows: one interaction per pair, its "
        "weights summed" + (", at its latest timestamp" if timestamps is not None else "")
    )
    if timestamps is not None:
        timestamps = pd.Series(timestamps).groupby(place).max().to_numpy(dtype=np.int64)
    return users[kept], items[kept], total.astype(np.float32), timestamps, [note]
