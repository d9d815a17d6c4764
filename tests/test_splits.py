"""Splits are disjoint, complete and seeded (property tests), and report cold rows."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import embedrec
from embedrec import (
    DataError,
    kfold_splits,
    load_ratings,
    load_split,
    random_split,
    ratings_from_frame,
    temporal_split,
)
from embedrec.data.splits import split_from_spec
from tests.conftest import low_rank_frame

RATINGS = ratings_from_frame(low_rank_frame(n_users=25, n_items=20, seed=3))


def rows(ratings):
    return sorted(zip(ratings.users.tolist(), ratings.items.tolist(), ratings.ratings.tolist()))


@settings(max_examples=30, deadline=None)
@given(pct=st.floats(0.05, 0.95), seed=st.integers(0, 2**31))
def test_random_split_is_disjoint_complete_and_seeded(pct, seed):
    split = random_split(RATINGS, pct, seed)
    assert sorted(rows(split.train) + rows(split.valid)) == rows(RATINGS)
    assert len(split.valid) == round(len(RATINGS) * pct)
    again = random_split(RATINGS, pct, seed)
    assert rows(again.valid) == rows(split.valid)


def test_different_seeds_give_different_splits():
    assert rows(random_split(RATINGS, 0.2, 1).valid) != rows(random_split(RATINGS, 0.2, 2).valid)


@settings(max_examples=20, deadline=None)
@given(k=st.integers(2, 10), seed=st.integers(0, 1000))
def test_kfold_validates_every_row_exactly_once(k, seed):
    splits = kfold_splits(RATINGS, k, seed)
    valid_rows = [r for s in splits for r in rows(s.valid)]
    assert sorted(valid_rows) == rows(RATINGS)
    for s in splits:
        assert sorted(rows(s.train) + rows(s.valid)) == rows(RATINGS)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 5))
def test_temporal_holds_out_each_users_latest(n):
    split = temporal_split(RATINGS, last_n=n)
    for user in range(RATINGS.n_users):
        train_t = split.train.timestamps[split.train.users == user]
        valid_t = split.valid.timestamps[split.valid.users == user]
        assert len(train_t) >= 1
        assert len(valid_t) == min(n, len(train_t) + len(valid_t) - 1)
        if len(valid_t):
            assert train_t.max() <= valid_t.min()
    assert len(split.train) + len(split.valid) == len(RATINGS)


def test_temporal_fraction_and_errors():
    split = temporal_split(RATINGS, last_frac=0.25)
    assert 0 < len(split.valid) < 0.3 * len(RATINGS)
    no_time = ratings_from_frame(low_rank_frame().drop(columns="timestamp"))
    with pytest.raises(DataError, match="needs a timestamp column"):
        temporal_split(no_time, last_n=1)


def test_cold_rows_are_those_unseen_in_training():
    split = random_split(RATINGS, 0.5, 0)
    cold = split.cold_rows()
    seen_u = set(split.train.users.tolist())
    seen_i = set(split.train.items.tolist())
    expected = [
        not (u in seen_u and i in seen_i)
        for u, i in zip(split.valid.users.tolist(), split.valid.items.tolist())
    ]
    assert cold.tolist() == expected


def test_describe_counts_the_sides_in_the_datas_words():
    frame = pd.DataFrame({"user": [1, 1, 2, 3], "item": [5, 6, 5, 7], "plays": [3, 1, 2, 9]})
    plays = embedrec.ratings_from_frame(frame)
    in_train = np.array([True, True, False, False])
    split = embedrec.Split(plays.subset(in_train), plays.subset(~in_train), "by hand")
    assert split.describe() == (
        "by hand: 2 train / 2 valid interactions; 2 valid rows have a user or item with no "
        "training interaction (a new user gets the fallback list; a new item cannot be "
        "recommended)"
    )
    rated = random_split(RATINGS, 0.5, 0)
    cold = int(rated.cold_rows().sum())
    assert rated.describe().startswith(
        f"{rated.name}: {len(rated.train):,} train / {len(rated.valid):,} valid ratings"
    )
    assert (f"; {cold:,} valid rows" in rated.describe()) == (cold > 0)


@pytest.mark.parametrize("spec, n_valid", [("random:0.1:7", 0.1), ("kfold:4:1", 0.25)])
def test_specs(spec, n_valid):
    split = split_from_spec(RATINGS, spec)
    assert abs(len(split.valid) - n_valid * len(RATINGS)) <= 1


@pytest.mark.parametrize("spec", ["nope", "kfold:3:5", "random:x"])
def test_bad_specs(spec):
    with pytest.raises(DataError):
        split_from_spec(RATINGS, spec)


def test_show_batch_and_one_batch_look_at_the_training_side(small_frame):
    split = random_split(ratings_from_frame(small_frame), 0.2, 0)
    shown = split.show_batch(5, seed=1)
    assert list(shown.columns[:3]) == ["user", "item", "rating"] and len(shown) == 5
    raw = set(zip(small_frame["user"], small_frame["item"], small_frame["rating"]))
    assert set(zip(shown["user"], shown["item"], shown["rating"])) <= raw
    users, items, ratings = split.one_batch(16, seed=1)
    assert len(users) == len(items) == len(ratings) == 16
    assert users.max() < split.train.n_users and items.max() < split.train.n_items
    with pytest.raises(DataError, match="n must be at least 1"):
        split.show_batch(0)
    with pytest.raises(DataError, match="bs must be at least 1"):
        split.one_batch(0)


def _same_side(a, b):
    for column in ("users", "items", "ratings", "timestamps"):
        np.testing.assert_array_equal(getattr(a, column), getattr(b, column))
        assert getattr(a, column).dtype == getattr(b, column).dtype
    assert a.user_map == b.user_map and a.item_map == b.item_map and a.source == b.source


def test_load_split_takes_over_its_table_and_splits_as_random_split(tmp_path):
    """`load_split` hands the table it loaded over to the split column by column (memory: the
    table is never held twice); the sides are row for row `random_split`'s."""
    path = tmp_path / "r.csv"
    low_rank_frame(n_users=30, n_items=20, seed=4).to_csv(path, index=False)
    for pct, seed in ((0.2, 5), (0.01, None), (0.0, 3)):
        taken = load_split(path, valid_pct=pct, seed=seed)
        copied = random_split(load_ratings(path), pct, 42 if seed is None else seed)
        assert taken.name == copied.name
        _same_side(taken.train, copied.train)
        _same_side(taken.valid, copied.valid)


def test_a_split_without_timestamps_shares_every_other_array():
    split = random_split(RATINGS, 0.2, 1)
    lean = split.without_timestamps()
    assert split.train.timestamps is not None  # the split itself keeps them
    for side, kept in ((lean.train, split.train), (lean.valid, split.valid)):
        assert side.timestamps is None
        for column in ("users", "items", "ratings"):
            assert getattr(side, column) is getattr(kept, column)  # shared, not copied
    assert lean.name == split.name and len(lean.train) == len(split.train)
