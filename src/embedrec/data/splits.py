"""Train/validation splits, all seeded: random fraction, k-fold, per-user temporal, named specs.

Both sides of a split share the id maps of the full data. Validation rows whose user or item has
no training rating ("cold" rows) are counted in `Split.cold_rows()` and reported; models never
score them with an untrained embedding (see `Recommender`, which falls back to a bias baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from embedrec.data.ratings import IdMap, Ratings
from embedrec.data.validate import plain
from embedrec.errors import DataError, DistributedError
from embedrec.help_text import SPLIT_HELP as SPEC_HELP
from embedrec.notebook import html_table


@dataclass
class Split:
    train: Ratings
    valid: Ratings
    name: str = "split"

    def cold_rows(self) -> np.ndarray:
        """Boolean mask over `valid`: rows whose user or item never occurs in `train`."""
        seen_users = self.train.user_counts() > 0
        seen_items = self.train.item_counts() > 0
        return ~(seen_users[self.valid.users] & seen_items[self.valid.items])

    def show_batch(self, n: int = 10, seed: int | None = None) -> pd.DataFrame:
        """A random look at `n` training rows (raw ids, titles, ratings), as fastai's
        `dls.show_batch()`."""
        return self.train.show_batch(n, seed)

    def one_batch(
        self, bs: int = 64, seed: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A random training batch as the models see it: (user indices, item indices,
        ratings), as fastai's `dls.one_batch()`."""
        return self.train.one_batch(bs, seed)

    def without_timestamps(self) -> Split:
        """This split without the timestamps: a model learns from neither side's."""
        return Split(self.train.without_timestamps(), self.valid.without_timestamps(), self.name)

    def _repr_html_(self) -> str:
        """A notebook's view: one short table, not the two sides' reprs run together."""
        rows = [
            ("train", f"{len(self.train):,} ratings"),
            ("valid", f"{len(self.valid):,} ratings"),
            ("valid rows cold", f"{int(self.cold_rows().sum()):,} (no training rating)"),
            ("users", f"{self.train.n_users:,}"),
            ("items", f"{self.train.n_items:,}"),
            ("source", self.train.source),
        ]
        return html_table(rows, caption=f"Split {self.name}")

    def describe(self) -> str:
        """The line `train` prints: the sides' sizes and the cold validation rows, in the words
        of the data (ratings are scored, interactions ranked)."""
        cold = int(self.cold_rows().sum())
        what = "interaction" if self.train.interactions else "rating"
        text = f"{self.name}: {len(self.train):,} train / {len(self.valid):,} valid {what}s"
        if cold:
            text += f"; {cold:,} valid rows have a user or item with no training {what} " + (
                "(a new user gets the fallback list; a new item cannot be recommended)"
                if self.train.interactions
                else "(scored by the bias baseline, not by an untrained embedding)"
            )
        return text


def check_seed(seed: object) -> None:
    """A split's seed is a whole number >= 0 (numpy's generators take no other)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a whole number of at least 0, got {seed!r}")


def random_split(ratings: Ratings, valid_pct: float = 0.2, seed: int = 42) -> Split:
    """A seeded random fraction of the rows for validation (fastai's `valid_pct=0.2`);
    `valid_pct=0` trains on every row."""
    is_valid = random_valid_rows(len(ratings), valid_pct, seed)
    return rows_split(ratings, is_valid, random_split_name(valid_pct, seed))


def rows_split(ratings: Ratings, is_valid: np.ndarray, name: str, consume: bool = False) -> Split:
    """The rows `is_valid` marks for validation, the others for training.

    `consume`: `ratings` is the caller's to give up (`load_split`'s freshly loaded table). Each
    column is dropped from it (left empty) as soon as both sides hold their copy, so the peak
    is the table and one column, not the table twice: 300 MB less at 25M ratings."""
    if not consume:
        return Split(ratings.subset(~is_valid), ratings.subset(is_valid), name)
    is_train = ~is_valid
    train: dict[str, Any] = {}
    valid: dict[str, Any] = {}
    for column in ("timestamps", "users", "items", "ratings"):  # the widest first
        values = getattr(ratings, column)
        train[column] = None if values is None else values[is_train]
        valid[column] = None if values is None else values[is_valid]
        setattr(ratings, column, None if values is None else values[:0].copy())
        del values
    sides = [replace(ratings, **side, notes=list(ratings.notes)) for side in (train, valid)]
    return Split(sides[0], sides[1], name)


def random_valid_rows(n: int, valid_pct: float, seed: int) -> np.ndarray:
    """The boolean mask of `random_split`'s validation rows among `n`: a function of `n`, the
    fraction and the seed only, so processes holding different rows of one table (a
    distributed run's shards) agree on it row for row."""
    if not 0 <= valid_pct < 1:
        raise DataError(f"valid_pct must be at least 0 and below 1, got {valid_pct}")
    check_seed(seed)
    order = np.random.default_rng(seed).permutation(n)
    is_valid = np.zeros(n, dtype=bool)
    is_valid[order[: int(round(n * valid_pct))]] = True
    return is_valid


def random_split_name(valid_pct: float, seed: int) -> str:
    return f"random:{valid_pct:g}:{seed}"


def paired_split(train: Ratings, valid: Ratings, name: str | None = None) -> Split:
    """A split the user made as two files: both sides re-encoded with id maps covering the ids
    of either, so a validation row whose user or item is not in `train` is kept and counted as
    cold, never dropped. Both are ratings, or both interactions (plays, clicks)."""
    if train.interactions != valid.interactions:
        kinds = {True: "interactions (no rating column)", False: "ratings"}
        raise DataError(
            f"{train.source} holds {kinds[train.interactions]} but {valid.source} holds "
            f"{kinds[valid.interactions]}: give both files the same columns"
        )
    check_valid_scale(train, valid)
    users = union_map(train.user_map, valid.user_map)
    items = union_map(train.item_map, valid.item_map)
    titles = None
    if train.titles is not None or valid.titles is not None:
        titles = np.full(len(items), "", dtype=object)
        for side in (valid, train):  # the training file's title wins
            if side.titles is not None:
                titles[items.indexer(side.item_map.ids)] = side.titles
    scale = train.rating_scale or valid.rating_scale
    sides = [
        replace(side.with_maps(users, items, titles)[0], rating_scale=scale)
        for side in (train, valid)
    ]
    return Split(sides[0], sides[1], name or f"{train.source} / {valid.source}")


def check_valid_scale(train: Ratings, valid: Ratings) -> None:
    """A validation file's ratings lie on the training ratings' scale (declared, else their
    range), as `evaluate --test` checks a test file against a model: one 99 among 1-5 ratings,
    or a 0-10 file beside a 1-5 one, would be scored as if it were and move RMSE more than any
    model could."""
    if train.interactions or not len(train):
        return
    scale = train.rating_scale or train.observed_range
    found = off_scale(valid, scale, "the training ratings' scale", "validation ratings")
    if found:
        raise DataError(
            f"{valid.source}: {found}; is it a validation file of {train.source}, on the same "
            "scale? (a wider scale: --rating-scale LOW HIGH)"
        )


def off_scale(ratings: Ratings, scale: tuple[float, float], name: str, rows: str) -> str | None:
    """The first rating outside `scale` as its owner finds it ("user 'u0', item 109 is rated
    99, outside NAME 1..5 (1 of 20 ROWS)"); None when every rating is inside."""
    low, high = scale
    outside = np.flatnonzero((ratings.ratings < low) | (ratings.ratings > high))
    if not len(outside):
        return None
    row = outside[0]
    user, item = ratings.user_map.ids[ratings.users[row]], ratings.item_map.ids[ratings.items[row]]
    return (
        f"user {plain(user)!r}, item {plain(item)!r} is rated {ratings.ratings[row]:g}, outside "
        f"{name} {low:g}..{high:g} ({len(outside):,} of {len(ratings):,} {rows})"
    )


def union_map(train: IdMap, valid: IdMap) -> IdMap:
    """The ids of either side; a validation id the training map finds as typed otherwise ('42'
    read as text, 42 in training) is the training id. Where new text ids stand beside numeric
    ones (no order sorts both), every id becomes text: '42' and 42 still find the same one."""
    extra = valid.ids[train.find(valid.ids) < 0]
    try:
        return IdMap(np.concatenate([train.ids, extra]))
    except TypeError:
        return IdMap(np.concatenate([train.ids, extra]).astype(str).astype(object))


def kfold_splits(ratings: Ratings, k: int = 5, seed: int = 42) -> list[Split]:
    """k splits whose validation sides partition the rows (each row validated exactly once)."""
    if k < 2 or k > len(ratings):
        raise DataError(f"k-fold needs 2 <= k <= number of ratings ({len(ratings)}), got {k}")
    check_seed(seed)
    folds = np.array_split(np.random.default_rng(seed).permutation(len(ratings)), k)
    splits = []
    for i, fold in enumerate(folds):
        mask = np.zeros(len(ratings), dtype=bool)
        mask[fold] = True
        splits.append(Split(ratings.subset(~mask), ratings.subset(mask), f"kfold:{k}:{i}:{seed}"))
    return splits


def temporal_split(
    ratings: Ratings, last_n: int | None = None, last_frac: float | None = None
) -> Split:
    """Each user's latest ratings (the last `last_n`, or the last `last_frac` of them) for
    validation. Users keep at least one rating in training, so every valid user is known."""
    if ratings.timestamps is None:
        raise DataError(f"{ratings.source}: a temporal split needs a timestamp column")
    if (last_n is None) == (last_frac is None):
        raise DataError("give exactly one of last_n or last_frac for a temporal split")
    if last_n is not None and last_n < 1:
        raise DataError(f"last_n must be at least 1, got {last_n}")
    if last_frac is not None and not 0 < last_frac < 1:
        raise DataError(f"last_frac must be between 0 and 1, got {last_frac}")
    order = np.lexsort((np.arange(len(ratings)), ratings.timestamps, ratings.users))
    users_sorted = ratings.users[order]
    counts = ratings.user_counts()
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_from_end = counts[users_sorted] - (np.arange(len(order)) - starts[users_sorted])
    if last_n is not None:
        n_valid = np.minimum(last_n, counts - 1)
    else:
        n_valid = np.minimum(np.floor(counts * last_frac).astype(np.int64), counts - 1)
    is_valid = np.zeros(len(ratings), dtype=bool)
    is_valid[order] = rank_from_end <= n_valid[users_sorted]
    name = f"temporal:{last_n}" if last_n is not None else f"temporal:{last_frac:g}"
    return Split(ratings.subset(~is_valid), ratings.subset(is_valid), name)


def random_spec(spec: str) -> tuple[float, int]:
    """The fraction and seed of a `random:PCT[:SEED]` spec (defaults 0.2 and 42)."""
    _, *args = spec.split(":")
    try:
        return (float(args[0]) if args else 0.2), (int(args[1]) if len(args) > 1 else 42)
    except ValueError:
        raise DataError(f"split {spec!r} (--split): {SPEC_HELP}") from None


def data_parallel_spec(spec: str) -> tuple[float, int]:
    """The fraction and seed of the split a data-parallel run makes from `spec`: random only,
    since each process draws its own shard's validation rows by the same seed."""
    kind, *args = spec.split(":")
    if kind != "random" or len(args) > 2:
        raise DistributedError(
            f"--split {spec}: a distributed run splits at random only "
            "(random:PCT[:SEED], or --valid-pct; split= in Python)"
        )
    return random_spec(spec)


def split_from_spec(ratings: Ratings, spec: str) -> Split:
    """A split from a short text spec, as the CLI's `--split` takes it:

    `random:0.2[:SEED]`, `kfold:K:FOLD[:SEED]`, `temporal:N` (last N per user),
    `temporal:0.1` (last 10% per user). MovieLens folds (`u1`..`ub`) need the folder and are
    made by `load_movielens_fold`.
    """
    kind, *args = spec.split(":")
    try:
        if kind == "random":
            return random_split(ratings, *random_spec(spec))
        if kind == "kfold":
            k, fold = int(args[0]), int(args[1])
            seed = int(args[2]) if len(args) > 2 else 42
            if not 0 <= fold < k:
                raise DataError(f"split {spec!r}: fold must be in 0..{k - 1}")
            return kfold_splits(ratings, k, seed)[fold]
        if kind == "temporal":
            value = float(args[0])
            if value >= 1:
                return temporal_split(ratings, last_n=int(value))
            return temporal_split(ratings, last_frac=value)
    except (IndexError, ValueError) as exc:
        if isinstance(exc, DataError):
            if spec in str(exc):
                raise
            raise DataError(f"split {spec!r} (--split): {exc}") from None
        raise DataError(f"split {spec!r} is malformed ({exc}); {SPEC_HELP}") from None
    raise DataError(f"unknown split {spec!r}; {SPEC_HELP}")


def thinned_split(
    split: Split, share: float = 0.8, most: int = 4, seed: int = 42, name: str | None = None
) -> Split:
    """`split` with the training side of a seeded `share` of its users cut down to 1..`most`
    ratings each (how many: uniform; which: at random), the rest kept whole; the validation
    side untouched. MovieLens keeps only users with 20 ratings or more, which hides what
    sparse data does to a model: this makes MovieLens sparse, with the real ratings.

    >>> thinned = thinned_split(random_split(ratings, 0.2, 42))  # doctest: +SKIP
    """
    check_seed(seed)
    rng = np.random.default_rng(seed)
    train = split.train
    thinned = rng.random(train.n_users) < share
    keep_count = np.where(thinned, rng.integers(1, most + 1, train.n_users), np.iinfo(np.int64).max)
    # a random rank of each rating within its user: keep the ratings ranked below the count
    order = np.lexsort((rng.random(len(train)), train.users))
    starts = np.concatenate([[0], np.cumsum(train.user_counts())[:-1]])
    rank = np.empty(len(train), dtype=np.int64)
    rank[order] = np.arange(len(train)) - starts[train.users[order]]
    keep = rank < keep_count[train.users]
    return Split(train.subset(keep), split.valid, name or f"{split.name}, thinned")
