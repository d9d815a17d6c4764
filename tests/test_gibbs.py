"""Bayesian MF by Gibbs sampling: learns, and its posterior mean is an ordinary model."""

import numpy as np
import pytest

from embedrec import ModelError, Recommender, random_split, ratings_from_frame, train
from embedrec.training.gibbs import posterior_mean_model
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module")
def split():
    frame = low_rank_frame(n_users=60, n_items=40, density=0.5, seed=12)
    return random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)


def test_bmf_learns_and_reports_each_sweep(split):
    rec = train(split, model="bmf", n_factors=4, epochs=40)
    assert rec.engine == "gibbs" and len(rec.history) == 40
    baseline = float(np.sqrt(np.mean((split.valid.ratings - split.train.ratings.mean()) ** 2)))
    assert rec.evaluate(split.valid)["rmse"] < 0.9 * baseline
    assert rec.history[-1].valid_rmse == pytest.approx(rec.evaluate(split.valid)["rmse"])


def test_posterior_mean_is_the_average_of_sample_predictions():
    rng = np.random.default_rng(0)
    kept = [(rng.normal(size=(3, 5)), rng.normal(size=(4, 5))) for _ in range(7)]
    model = posterior_mean_model(kept, mean=3.0)
    import torch

    users, items = torch.tensor([0, 2, 1]), torch.tensor([3, 0, 1])
    got = model(users, items).detach().numpy()
    want = np.mean(
        [3.0 + u[users, 0] + i[items, 0] + (u[users, 1:] * i[items, 1:]).sum(1) for u, i in kept],
        axis=0,
    )
    assert np.allclose(got, want, atol=1e-4)


def test_bmf_saves_loads_and_folds_in(split, tmp_path):
    rec = train(split, model="bmf", n_factors=4, epochs=20, seed=3)
    rec.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    users, items = split.valid.users, split.valid.items
    assert np.allclose(rec.predict_indices(users, items), loaded.predict_indices(users, items))
    assert len(loaded.recommend_for_ratings({100: 5, 101: 1}, n=3)) == 3
    again = train(split, model="bmf", n_factors=4, epochs=20, seed=3)
    assert np.array_equal(rec.predict_indices(users, items), again.predict_indices(users, items))


def test_bmf_refuses_other_engines(split):
    with pytest.raises(ModelError, match="Gibbs sampling"):
        train(split, model="bmf", engine="torch")
