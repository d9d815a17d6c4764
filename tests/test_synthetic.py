import numpy as np
import pytest

from embedrec import DataError, OutputExistsError, load_ratings, random_split, ratings_from_frame
from embedrec.data.synthetic import PRESETS, Preset, synthetic_ratings, write_synthetic


def test_preset_shape_and_properties():
    frame = synthetic_ratings("ml-100k", seed=1)
    spec = PRESETS["ml-100k"]
    assert len(frame) == spec.n_ratings
    assert frame["userId"].nunique() == spec.n_users
    assert not frame.duplicated(["userId", "movieId"]).any()
    assert frame["rating"].between(1, 5).all() and set(frame["rating"]) <= {1, 2, 3, 4, 5}
    per_user = frame.groupby("userId").size()
    assert per_user.min() >= 20 and per_user.max() > 5 * per_user.median()  # long tail
    per_item = frame.groupby("movieId").size().sort_values(ascending=False)
    assert per_item.iloc[:17].sum() > 0.05 * len(frame)  # 1% of items take >5% of ratings
    assert per_item.median() < 0.7 * per_item.mean()  # and a long tail


def test_the_sparse_preset_is_what_movielens_hides():
    """Most users with one to four ratings, and a random split leaves many validation rows
    with a user or item training never saw."""
    frame = synthetic_ratings("sparse", seed=0)
    spec = PRESETS["sparse"]
    assert len(frame) == spec.n_ratings and frame["userId"].nunique() == spec.n_users
    assert not frame.duplicated(["userId", "movieId"]).any()
    per_user = frame.groupby("userId").size()
    assert per_user.min() == 1 and (per_user < 5).mean() > 0.8
    split = random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)
    assert split.cold_rows().mean() > 0.2


def test_half_stars_and_seeds():
    small = Preset(300, 200, 12_000, (0.5, 5.0), 0.5)
    a, b = synthetic_ratings(small, seed=3), synthetic_ratings(small, seed=3)
    assert a.equals(b)
    assert not a.equals(synthetic_ratings(small, seed=4))
    assert (a["rating"] * 2 % 1 == 0).all() and a["rating"].min() >= 0.5


def test_write_and_load(tmp_path):
    path = write_synthetic(tmp_path / "s.parquet", "ml-100k")
    ratings = load_ratings(path)
    assert (len(ratings), ratings.n_users) == (100_000, 943)
    with pytest.raises(OutputExistsError, match="already exists"):
        write_synthetic(path, "ml-100k")
    with pytest.raises(DataError, match="unknown preset"):
        write_synthetic(tmp_path / "t.parquet", "ml-7b")
    assert np.isfinite(ratings.timestamps).all()
