"""The fused CPU engine: same model and files as the PyTorch engine, thread-independent
results, and the chapter's accuracy on real MovieLens 100k."""

import numba
import numpy as np
import pytest
from typer.testing import CliRunner

from embedrec import ModelError, Recommender, evaluate, random_split, ratings_from_frame, train
from embedrec.cli import app
from embedrec.training.fused_engine import BlockLayout, balanced_groups
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module")
def split():
    frame = low_rank_frame(n_users=80, n_items=60, density=0.5, seed=9)
    return random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)


@pytest.mark.parametrize("model", ["dot", "dot-bias"])
def test_fused_learns(split, model):
    # with the sigmoid the fused engine agrees with torch (dot's default has none: the chapter's)
    rec = train(split, model=model, engine="fused", epochs=5, device="cpu", y_range=(0, 5.5))
    assert rec.engine == "fused"
    baseline = float(np.sqrt(np.mean((split.valid.ratings - split.train.ratings.mean()) ** 2)))
    assert rec.history[-1].valid_rmse < 0.9 * baseline
    assert rec.history[-1].train_loss < rec.history[0].train_loss


@pytest.mark.parametrize("model", ["dot", "dot-bias"])
def test_fused_refuses_a_linear_output_and_names_torch(split, model):
    """Where the fused engine is known to land far from torch (no y_range), asking for it is
    an error that says so; auto and the torch engine train the model."""
    with pytest.raises(ModelError, match=r"without a y_range.*--engine torch"):
        train(split, model=model, engine="fused", epochs=1, device="cpu", y_range=None)
    assert train(split, model=model, epochs=1, device="cpu", y_range=None).engine == "torch"


def test_the_cli_refuses_fused_without_a_y_range_with_exit_2(split, tmp_path):
    data = tmp_path / "r.csv"
    split.train.to_frame().to_csv(data, index=False)
    flags = ["--model", "dot", "--engine", "fused", "--epochs", "1", "--out", str(tmp_path / "m")]
    result = CliRunner().invoke(app, ["train", "--data", str(data), *flags])
    assert result.exit_code == 2, result.output
    assert "--engine torch" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


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


# The chapter's models (benchmarks/engines.py), the valid MSE of fastai's notebook, and the
# engine `auto` gives each on a CPU.
CHAPTER = {
    "DotProduct": (dict(model="dot", y_range=None, wd=0.0), 0.866, "torch"),
    "DotProduct y_range": (dict(model="dot", y_range=(0, 5.5), wd=0.0), 0.862, "torch"),
    "DotProductBias": (dict(model="dot-bias", y_range=(0, 5.5), wd=0.0), 0.878, "fused"),
    "DotProductBias wd 0.1": (dict(model="dot-bias", y_range=(0, 5.5), wd=0.1), 0.811, "fused"),
}


def chapter_mse(split, options, engine):
    rec = train(split, **options, engine=engine, epochs=5, lr=5e-3, bs=64, seed=42, device="cpu")
    return rec, evaluate(rec, split.valid)["loss"]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CHAPTER))
def test_every_chapter_model_on_both_engines(chapter_split, name):
    """The PyTorch engine reproduces the chapter's table; `auto` picks the fused engine only
    where it is as good (within 0.01 valid MSE of PyTorch, or better); on the other models the
    fused engine still learns, but `auto` leaves them to PyTorch."""
    options, notebook, picked = CHAPTER[name]
    torch_rec, torch_mse = chapter_mse(chapter_split, options, "torch")
    assert torch_rec.engine == "torch" and abs(torch_mse - notebook) < 0.03
    if options["y_range"] is None:  # known to land far off: refused (see the test above)
        with pytest.raises(ModelError, match="--engine torch"):
            chapter_mse(chapter_split, options, "fused")
        return
    fused_rec, fused_mse = chapter_mse(chapter_split, options, "fused")
    mean_only = float(
        np.mean((chapter_split.valid.ratings - chapter_split.train.ratings.mean()) ** 2)
    )
    assert fused_rec.engine == "fused" and fused_mse < mean_only
    assert train(chapter_split, **options, epochs=1, device="cpu").engine == picked
    if picked == "fused":
        assert fused_mse <= torch_mse + 0.01
