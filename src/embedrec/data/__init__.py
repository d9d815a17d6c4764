"""Ratings in: MovieLens by name or folder, any CSV/TSV/Parquet file, any DataFrame; splits.

Modules: `files` reads tables, `validate` turns them into `Ratings`, `movielens` knows the
official releases, `splits` makes train/validation splits, `user_input` reads what a user hands
a trained model (pairs to score, a new user's ratings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from embedrec.data.feedback import with_feedback
from embedrec.data.interactions import InteractionRule, Interactions
from embedrec.data.item_table import read_item_table, split_with_item_table, with_item_table
from embedrec.data.movielens import (
    FOLDS_100K,
    is_movielens_name,
    is_movielens_zip,
    load_movielens,
    load_movielens_fold,
    movielens_folder,
    unzipped_movielens,
)
from embedrec.data.ratings import IdMap, Ratings
from embedrec.data.settings import data_location, set_data_dir
from embedrec.data.splits import (
    Split,
    kfold_splits,
    paired_split,
    random_split,
    random_split_name,
    random_valid_rows,
    rows_split,
    split_from_spec,
    temporal_split,
)
from embedrec.data.user_input import read_liked, read_pairs, read_user_ratings
from embedrec.data.validate import ratings_from_frame, read_ratings
from embedrec.errors import DataError

DEFAULT_SEED = 42  # the split's seed when none is given (TrainConfig's default seed too)

__all__ = [
    "FOLDS_100K",
    "IdMap",
    "InteractionRule",
    "Interactions",
    "Ratings",
    "Split",
    "data_location",
    "kfold_splits",
    "load_movielens",
    "load_movielens_fold",
    "load_ratings",
    "load_split",
    "read_item_table",
    "with_feedback",
    "with_item_table",
    "movielens_folder",
    "paired_split",
    "random_split",
    "ratings_from_frame",
    "read_pairs",
    "read_ratings",
    "read_liked",
    "read_user_ratings",
    "set_data_dir",
    "split_from_spec",
    "temporal_split",
]


def load_ratings(
    data: str | Path | pd.DataFrame,
    *,
    data_dir: str | Path | None = None,
    item_table: str | Path | pd.DataFrame | None = None,
    **columns: Any,
) -> Ratings:
    """Ratings from a MovieLens name (`movielens-100k`), a MovieLens folder, a ratings file or a
    DataFrame. Keyword arguments (`user_col=`, `sep=`, `header=`, `columns=`, `rating_scale=`,
    ...) go to the file or DataFrame reader. `item_table=` (a file or a DataFrame of item ids
    with their titles, and genres) names the items (`embedrec.data.item_table`).

    >>> ratings = load_ratings("movielens-100k")  # doctest: +SKIP
    >>> ratings = load_ratings("my.csv", user_col="customer", item_col="sku")  # doctest: +SKIP
    >>> ratings = load_ratings("r.txt.gz", columns="user,item,rating")  # doctest: +SKIP
    >>> ratings = load_ratings("user_artists.dat", item_table="artists.dat")  # doctest: +SKIP
    """
    ratings = _load_ratings(data, data_dir, columns)
    if item_table is None:
        return ratings
    return with_item_table(ratings, read_item_table(item_table))


def _load_ratings(
    data: str | Path | pd.DataFrame, data_dir: str | Path | None, columns: dict[str, Any]
) -> Ratings:
    if isinstance(data, (pd.DataFrame, pd.Series)):  # a Series: ids in its index
        for file_only in ("sep", "header", "columns"):
            columns.pop(file_only, None)
        return ratings_from_frame(data, **columns)
    path = Path(data).expanduser()
    if path.is_dir() or (not path.exists() and is_movielens_name(str(data))):
        return load_movielens(data, data_dir=data_dir)
    if path.is_file() and is_movielens_zip(path):  # an official MovieLens zip, as downloaded
        with unzipped_movielens(path) as folder:
            ratings = load_movielens(folder)
        ratings.source = str(path)
        return ratings
    if not path.exists():
        raise DataError(
            f"{data}: no such file or folder, and not a MovieLens name such as movielens-100k"
        )
    return read_ratings(path, **columns)


def load_split(
    data: str | Path | pd.DataFrame,
    split: str | None = None,
    *,
    valid_pct: float = 0.2,
    seed: int | None = None,
    data_dir: str | Path | None = None,
    valid: str | Path | pd.DataFrame | None = None,
    item_table: str | Path | pd.DataFrame | None = None,
    **columns: Any,
) -> Split:
    """Load and split in one step: `split` is a MovieLens 100k fold (`u1`), a spec such as
    `random:0.1:7` or `temporal:5`, or None for a random `valid_pct` split (seeded by `seed`,
    None: the default seed, 42, as the training config's); or `valid`
    names a validation (test) file of the same layout, and all of `data` trains.
    `item_table=` names the items of both sides, as in `load_ratings`.

    >>> load_split("train.csv", valid="test.csv", user_col="customer")  # doctest: +SKIP
    """
    table = None if item_table is None else read_item_table(item_table)  # its errors first
    made = _split(data, split, valid_pct, seed, data_dir, valid, columns)
    return made if table is None else split_with_item_table(made, table)


def _split(
    data: str | Path | pd.DataFrame,
    split: str | None,
    valid_pct: float,
    seed: int | None,
    data_dir: str | Path | None,
    valid: str | Path | pd.DataFrame | None,
    columns: dict[str, Any],
) -> Split:
    if valid is not None:
        if split is not None:
            raise DataError("give a split or a validation file, not both")
        return paired_split(
            load_ratings(data, data_dir=data_dir, **columns),
            load_ratings(valid, data_dir=data_dir, **columns),
        )
    if split in FOLDS_100K:
        if isinstance(data, pd.DataFrame):
            raise DataError(f"split {split!r} needs the MovieLens 100k folder, not a DataFrame")
        return load_movielens_fold(data, split, data_dir=data_dir)
    ratings = load_ratings(data, data_dir=data_dir, **columns)
    if split is None:  # the table is this function's own: the split takes it over
        seed = DEFAULT_SEED if seed is None else seed
        is_valid = random_valid_rows(len(ratings), valid_pct, seed)
        return rows_split(ratings, is_valid, random_split_name(valid_pct, seed), consume=True)
    return split_from_spec(ratings, split)
