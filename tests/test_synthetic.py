import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


SMALL = Preset(300, 200, 12_000, (1.0, 5.0), 1.0)


def test_true_rating_is_what_the_generator_expects():
    """Each row's `true_rating` is the mean of its noisy, rounded, clipped rating: residuals
    average out, and its RMSE (the noise floor) sits below the noise sd, far below the spread."""
    frame = synthetic_ratings(SMALL, seed=3)
    residual = frame["rating"] - frame["true_rating"]
    assert abs(residual.mean()) < 0.02
    for _, rows in frame.groupby(frame["true_rating"].round()):  # unbiased at every level
        if len(rows) > 500:
            assert abs((rows["rating"] - rows["true_rating"]).mean()) < 0.05
    floor = float(np.sqrt((residual**2).mean()))
    assert 0.6 < floor < 0.82 < frame["rating"].std()


def test_the_noise_floor_is_found_for_validation_rows(tmp_path):
    from embedrec import noise_floor

    frame = synthetic_ratings(SMALL, seed=3)
    split = random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)
    truth = frame.set_index(["userId", "movieId"])["true_rating"]
    valid = split.valid.to_frame(titles=False)
    expected = truth.loc[list(zip(valid["user"], valid["item"]))].to_numpy()
    want = float(np.sqrt(np.mean((expected - split.valid.ratings) ** 2)))
    csv = tmp_path / "s.csv"
    frame.to_csv(csv, index=False)
    assert noise_floor(frame, split.valid) == pytest.approx(want, rel=1e-6)
    assert noise_floor(csv, split.valid) == pytest.approx(want, rel=1e-5)
    assert noise_floor(frame.drop(columns="true_rating"), split.valid) is None
    assert noise_floor("movielens-100k", split.valid) is None


def test_the_noise_floor_reads_the_file_in_slices_alike(tmp_path, monkeypatch):
    """The truth is looked up a slice of rows at a time (memory): slices of 1,000 rows give
    what one slice gives, from a DataFrame, a CSV and a Parquet file alike."""
    from embedrec.data import synthetic

    frame = synthetic_ratings(SMALL, seed=3)
    split = random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)
    csv, parquet = tmp_path / "s.csv", tmp_path / "s.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet, index=False)
    whole = {str(s): synthetic.true_ratings(s, split.valid) for s in (csv, parquet)}
    monkeypatch.setattr(synthetic, "BATCH_ROWS", 1000)
    assert len(frame) > 5 * synthetic.BATCH_ROWS
    for source in (csv, parquet):
        np.testing.assert_array_equal(
            synthetic.true_ratings(source, split.valid), whole[str(source)]
        )
    sliced = synthetic.true_ratings(frame, split.valid)
    np.testing.assert_array_equal(sliced, whole[str(parquet)])
    truth = frame.set_index(["userId", "movieId"])["true_rating"]
    valid = split.valid.to_frame(titles=False)
    expected = truth.loc[list(zip(valid["user"], valid["item"]))].to_numpy(np.float32)
    np.testing.assert_array_equal(sliced, expected)
    # a row of the validation side the file lacks: no floor, not a wrong one
    assert synthetic.true_ratings(frame.iloc[: len(frame) // 2], split.valid) is None


@settings(max_examples=100, deadline=None)
@given(
    file_rows=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(1, 9)), min_size=1, max_size=25
    ),
    asked=st.lists(st.integers(0, 99), min_size=1, max_size=12),
    absent=st.booleans(),
    picks=st.none() | st.lists(st.integers(0, 99), max_size=12),
    batch_rows=st.integers(1, 8),
)
def test_each_pairs_truth_is_its_first_row_in_the_file(file_rows, asked, absent, picks, batch_rows):
    """Against a dict of each (user, item)'s first row in file order, on small random files
    read in slices of 1 to 8 rows: a pair the file holds twice (in one slice or two), rows
    whose user or item the ratings never saw, slices with nothing asked for, pairs asked twice
    or none, and a pair the file lacks (no truth at all, never a wrong one)."""
    from embedrec.data import synthetic

    users, items, truths = (np.array(column) for column in zip(*file_rows))
    frame = pd.DataFrame(
        {"userId": users, "movieId": items, synthetic.TRUE_RATING: truths.astype(np.float32) / 2}
    )
    pairs = list(dict.fromkeys((users[k % len(users)], items[k % len(items)]) for k in asked))
    pairs += [(5, 5)] if absent else []  # ids 0-4 in the file: a pair it lacks
    ratings = ratings_from_frame(
        pd.DataFrame(pairs, columns=["userId", "movieId"]).assign(rating=3.0),
        rating_scale=(1, 5),
    )
    if picks is not None:  # rows asked twice, or none at all
        ratings = ratings.subset(np.array(picks, dtype=np.int64) % len(ratings))
    first: dict[tuple[int, int], np.float32] = {}
    for user, item, truth in file_rows:
        first.setdefault((user, item), np.float32(truth) / 2)
    asked_pairs = zip(
        ratings.user_map.decode(ratings.users), ratings.item_map.decode(ratings.items)
    )
    wanted = [first.get(pair) for pair in asked_pairs]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(synthetic, "BATCH_ROWS", batch_rows)
        found = synthetic.true_ratings(frame, ratings)
    if any(truth is None for truth in wanted):
        assert found is None
    else:
        assert found is not None and found.dtype == np.float32
        np.testing.assert_array_equal(found, np.array(wanted, dtype=np.float32))


def test_the_parquet_file_records_the_generator(tmp_path):
    import json

    import pyarrow.parquet as pq

    from embedrec.data.synthetic import METADATA_KEY

    path = write_synthetic(tmp_path / "s.parquet", "sparse")
    settings = json.loads(pq.read_schema(path).metadata[METADATA_KEY])
    assert settings["preset"] == "sparse" and settings["noise"] == 0.8 and settings["rank"] == 16


def test_the_generating_model_is_the_one_the_ratings_came_from():
    """`synthetic_set` hands back the model behind the frame: its scores give every row's
    `true_rating`, and widening the noise (an estimate's own uncertainty) pulls an expected
    rating towards the middle of the scale."""
    from embedrec.data.synthetic import synthetic_set

    frame, model = synthetic_set(SMALL, seed=3)
    assert frame.equals(synthetic_ratings(SMALL, seed=3))
    user_row = {uid: r for r, uid in enumerate(model.user_ids)}
    item_row = {iid: r for r, iid in enumerate(model.item_ids)}
    u = frame["userId"].map(user_row).to_numpy()
    i = frame["movieId"].map(item_row).to_numpy()
    scores = (
        model.mean
        + model.user_bias[u]
        + model.item_bias[i]
        + np.einsum("ij,ij->i", model.user_factors[u], model.item_factors[i])
    )
    np.testing.assert_allclose(model.expected_rating(scores), frame["true_rating"], atol=1e-5)
    top = np.array([6.0], dtype=np.float32)
    assert model.expected_rating(top, 1.0)[0] < model.expected_rating(top)[0] < 5.0
