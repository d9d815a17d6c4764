"""The fused CPU engine: same model and files as the PyTorch engine, thread-independent
results, and the chapter's accuracy on real MovieLens 100k."""

import numba
import numpy as np
import pytest

from embedrec import ModelError, Recommender, evaluate, random_split, ratings_from_frame, train
from embedrec.training.fused_engine import BlockLayout, balanced_groups
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module")
def split():
    frame = low_rank_frame(n_users=80, n_items=60, density=0.5, seed=9)
    return random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)


@pytest.mark.parametrize("model", ["dot", "dot-bias"])
def test_fused_learns_and_auto_picks_it_on_cpu(split, model):
    rec = train(split, model=model, epochs=5, device="cpu")
    assert rec.engine == "fused"
    baseline = float(np.sqrt(np.mean((split.valid.ratings - split.train.ratings.mean()) ** 2)))
    assert rec.history[-1].valid_rmse < 0.9 * baseline
    assert rec.history[-1].train_loss < rec.history[0].train_loss


def test_same_result_on_one_and_two_threads(split):
    before = numba.get_num_threads()
    one = train(split, model="dot-bias", engine="fused", epochs=3, threads=1)
    two = train(
        split,
        model="dot-bias",
        engine="fused",
        epochs=3,
        threads=min(2, numba.config.NUMBA_NUM_THREADS),
    )
    assert numba.get_num_threads() == before  # training leaves the global setting alone
    users, items = split.valid.users, split.valid.items
    # blocks of a stratum share no user and no item: no races, so no dependence on threads
    assert np.array_equal(one.predict_indices(users, items), two.predict_indices(users, items))
    again = train(split, model="dot-bias", engine="fused", epochs=3, threads=1)
    assert np.array_equal(one.predict_indices(users, items), again.predict_indices(users, items))


def test_fused_models_save_and_load_like_any_other(split, tmp_path):
    rec = train(split, model="dot-bias", engine="fused", epochs=2)
    rec.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    users, items = split.valid.users, split.valid.items
    assert np.array_equal(rec.predict_indices(users, items), loaded.predict_indices(users, items))
    assert evaluate(loaded, split.valid) == evaluate(rec, split.valid)


def test_fused_refuses_the_neural_model(split):
    with pytest.raises(ModelError, match="fused engine does not train nn models"):
        train(split, model="nn", engine="fused")
    assert train(split, model="nn", epochs=1).engine == "torch"


def test_blocks_cover_every_rating_once(split):
    t = split.train
    layout = BlockLayout(t.users, t.items, t.ratings, t.n_users, t.n_items, grid=4, seed=0)
    assert layout.block_sizes.sum() == len(t)
    original = sorted(zip(t.users.tolist(), t.items.tolist(), t.ratings.tolist()))
    laid_out = sorted(zip(layout.users.tolist(), layout.items.tolist(), layout.ratings.tolist()))
    assert laid_out == original


def test_groups_balance_ratings():
    counts = np.random.default_rng(0).zipf(1.5, 10_000).clip(max=5_000)
    groups = balanced_groups(counts, 8, np.random.default_rng(0))
    load = np.bincount(groups, weights=counts, minlength=8)
    assert load.max() / load.min() < 1.3


@pytest.mark.slow
def test_chapter_recipe_fused_matches_torch(chapter_split):
    fused = evaluate(train(chapter_split, model="dot-bias", engine="fused"), chapter_split.valid)
    torch_metrics = evaluate(
        train(chapter_split, model="dot-bias", engine="torch"), chapter_split.valid
    )
    fused_rmse, torch_rmse = fused["rmse"], torch_metrics["rmse"]
    assert fused_rmse <= torch_rmse + 0.005
