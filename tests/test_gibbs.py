"""Bayesian MF by Gibbs sampling: the conditionals are the right ones, the bookkeeping of the
implicit terms stays exact, it learns, and its posterior mean is an ordinary model."""

import weakref

import numba
import numpy as np
import pytest
import torch

from embedrec import ModelError, Recommender, evaluate, random_split, ratings_from_frame, train
from embedrec.config import TrainConfig
from embedrec.models.bmf import BayesianMFKind, pulled_model
from embedrec.models.torch_model import PREDICTED_PAIRS, PREDICTED_VALUES
from embedrec.training import gibbs
from embedrec.training.gibbs import PosteriorMean, _grouped, _Noise, _Side
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module")
def split():
    frame = low_rank_frame(n_users=60, n_items=40, density=0.5, seed=12)
    return random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)


def test_bmf_learns_and_reports(split):
    rec = train(split, model="bmf", ranker="ease", epochs=40)
    assert rec.model_name == "bmf+ease" and rec.engine.split("+")[0] == "gibbs"
    # 16 ratings per user: sparse by the defaults rule (median under 20), so rank 4
    assert (
        rec.config.n_factors == 4
        and rec.config.options["implicit"]
        and rec.config.options["robust"]
    )
    sweeps = rec.history  # the rating model's sweeps (the ranker's epochs are shown, not kept)
    assert [s.epoch for s in sweeps] == list(range(40))
    baseline = float(np.sqrt(np.mean((split.valid.ratings - split.train.ratings.mean()) ** 2)))
    assert evaluate(rec, split.valid)["rmse"] < 0.9 * baseline
    assert sweeps[-1].valid_rmse == pytest.approx(evaluate(rec, split.valid)["rmse"])
    alone = train(split, model="bmf", epochs=40)
    assert alone.model_name == "bmf" and alone.engine == "gibbs" and len(alone.history) == 40
    users, items = split.valid.users, split.valid.items
    assert np.array_equal(alone.predict_indices(users, items), rec.predict_indices(users, items))


def test_posterior_mean_is_the_average_of_sample_predictions():
    rng = np.random.default_rng(0)
    kept = [(rng.normal(size=(3, 5)), rng.normal(size=(4, 5))) for _ in range(7)]
    average = PosteriorMean(3, 4, rank=4, slots=10, mean=3.0)
    for u, i in kept:
        average.add(u, i)
    model = average.model()
    assert model.n_factors == 7 * 4  # unfilled slots are not part of the model
    users, items = torch.tensor([0, 2, 1]), torch.tensor([3, 0, 1])
    got = model(users, items).detach().numpy()
    want = np.mean(
        [3.0 + u[users, 0] + i[items, 0] + (u[users, 1:] * i[items, 1:]).sum(1) for u, i in kept],
        axis=0,
    )
    assert np.allclose(got, want, atol=1e-4)


def test_the_posterior_mean_kept_in_float32_is_the_float64_mean_to_a_rounding():
    """The kept factors are stored in float32 (half the memory) and scaled a block of rows at
    a time: the weights are within two float32 roundings of the plain float64 concatenation
    of the kept samples scaled by 1/sqrt(samples), and the predictions are the float64
    average of the samples' predictions to 1e-5 (ratings 1-5), so no RMSE moves at 1e-4."""
    rng = np.random.default_rng(1)
    n_users, n_items, rank, n = 40_000, 30, 3, 3
    kept = [
        (rng.normal(0.5, 1.0, (n_users, rank + 1)), rng.normal(0.5, 1.0, (n_items, rank + 1)))
        for _ in range(n)
    ]
    average = PosteriorMean(n_users, n_items, rank=rank, slots=4, mean=3.5)
    for u, i in kept:
        average.add(u, i)
    model = average.model()
    for got, side in ((model.user_factors.weight, 0), (model.item_factors.weight, 1)):
        want = np.hstack([sample[side][:, 1:] for sample in kept]) / np.sqrt(n)
        assert np.allclose(got.detach().numpy(), want, rtol=2.5e-7, atol=0)
    users = rng.integers(0, n_users, 5_000)
    items = rng.integers(0, n_items, 5_000)
    got = model(torch.as_tensor(users), torch.as_tensor(items)).detach().numpy()
    want = np.mean(
        [3.5 + u[users, 0] + i[items, 0] + (u[users, 1:] * i[items, 1:]).sum(1) for u, i in kept],
        axis=0,
    )
    assert np.abs(got - want).max() < 1e-5


def test_the_posterior_mean_keeps_no_model_it_built():
    """Each call builds the current average anew and keeps no reference to it: the model
    that asked holds it alone, so letting it go frees it (a large run never holds two)."""
    rng = np.random.default_rng(2)
    average = PosteriorMean(5, 4, rank=2, slots=3, mean=3.0)
    average.add(rng.normal(size=(5, 3)), rng.normal(size=(4, 3)))
    first = average.model()
    gone = weakref.ref(first)
    del first
    assert gone() is None
    average.add(rng.normal(size=(5, 3)), rng.normal(size=(4, 3)))
    assert average.model().n_factors == 4


def _sample_rows(split, rng):
    return rng.normal(size=(split.train.n_users, 3)), rng.normal(size=(split.train.n_items, 3))


def test_bmf_lets_its_previous_posterior_mean_go_before_building_the_next(split):
    """The model the sampler validates holds no network while the next one is built."""
    model = BayesianMFKind.build(TrainConfig(), split.train)
    as_model = pulled_model(model, split.train, 0.0)
    average = PosteriorMean(split.train.n_users, split.train.n_items, rank=2, slots=2, mean=3.0)
    rng = np.random.default_rng(3)
    seen = []

    def build():
        seen.append(hasattr(model, "network"))
        return average.model()

    for _ in range(2):
        average.add(*_sample_rows(split, rng))
        assert as_model(build) is model
        assert torch.equal(model.network.user_factors.weight, average.model().user_factors.weight)
    assert seen == [False, False]


def test_a_shrunk_bmf_keeps_no_unshrunk_mean_beside_the_shrunk_one(split):
    """With `shrink`, the model holds the mean pulled towards the baseline, and the plain
    mean it was made from is let go (it was kept alive beside it, as large as it)."""
    model = BayesianMFKind.build(TrainConfig(), split.train)
    as_model = pulled_model(model, split.train, 2.0)
    average = PosteriorMean(split.train.n_users, split.train.n_items, rank=2, slots=2, mean=3.0)
    average.add(*_sample_rows(split, np.random.default_rng(4)))
    plain = []

    def build():
        network = average.model()
        plain.append(weakref.ref(network))
        return network

    as_model(build)
    assert plain[0]() is None
    assert model.network.n_factors == 2 + 2  # the mean's factors and the pull's two columns


def test_the_trained_bmf_holds_the_mean_of_every_kept_sample(split):
    """`train` ends with the model holding the mean of every kept sample, the one its last
    validation scored (the sampler hands it over with the last sample)."""
    options = {"shrink": 0.0, "implicit": True, "robust": True}
    rec = train(split, model="bmf", n_factors=3, epochs=6, seed=1, **options)
    average, _ = gibbs.fit_gibbs(
        split.train.users, split.train.items, split.train.ratings, split.train.n_users,
        split.train.n_items, n_factors=3, epochs=6, seed=1,
    )  # fmt: skip
    assert torch.equal(rec.model.network.item_factors.weight, average.model().item_factors.weight)
    assert rec.history[-1].valid_rmse == evaluate(rec, split.valid)["rmse"]


def test_a_wide_posterior_mean_scores_pairs_in_smaller_batches_with_the_same_scores():
    """A mean of many samples is wide (rank x samples): it scores fewer pairs at once, so a
    large validation gathers no wide blocks, and every pair scores as it would in any batch."""
    rng = np.random.default_rng(5)
    average = PosteriorMean(300, 200, rank=10, slots=30, mean=3.0)
    for _ in range(30):
        average.add(rng.normal(size=(300, 11)), rng.normal(size=(200, 11)))
    model = BayesianMFKind(average.model())
    assert model.predict_batch() == PREDICTED_VALUES // 300 < PREDICTED_PAIRS
    users, items = rng.integers(0, 300, 50_000), rng.integers(0, 200, 50_000)
    whole = model.predict(users, items, batch=PREDICTED_PAIRS)
    assert np.array_equal(model.predict(users, items), whole)
    assert np.array_equal(model.predict(users[:50], items[:50], batch=1), whole[:50])


def _state(seed=0, n_users=7, n_items=5, d=3):
    """Random ratings, noise factors and sides for checking one Gibbs step against dense
    algebra: the user side's own and implicit rows, the item side's effective rows."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < 0.7
    users, items = (a.astype(np.int32) for a in np.nonzero(mask))
    ratings = rng.normal(size=len(users)).astype(np.float32)
    user_f, item_f = rng.uniform(0.5, 2.0, n_users), rng.uniform(0.5, 2.0, n_items)
    user_side = _Side(
        n_users, n_items, d, _grouped(users, items, ratings, n_users), True, user_f, rng
    )
    item_side = _Side(
        n_items, n_users, d, _grouped(items, users, ratings, n_items), True, item_f, rng
    )
    item_side.effective[:] = rng.normal(size=(n_items, d))
    user_side.own[:] = rng.normal(size=(n_users, d))
    user_side.implicit[:] = rng.normal(size=(n_items, d))  # Y_j
    prec_r = user_f[users] * item_f[items]
    return rng, users, items, ratings.astype(np.float64), prec_r, user_side, item_side


def _implicit_sums(side):
    indptr, cols, y = side.indptr, side.cols, side.implicit
    return np.stack(
        [side.weight[u] * y[cols[indptr[u] : indptr[u + 1]]].sum(0) for u in range(len(indptr) - 1)]
    )


def test_own_draw_matches_the_dense_conditional():
    """With zero noise a draw of P_u is its conditional mean given everything else: the
    ratings (each with its robust precision factor) see U = P + sums, under P's prior."""
    rng, users, items, ratings, prec_r, user_side, item_side = _state()
    n_users, d = 7, 3
    item_rows = item_side.effective
    user_side.sums[:] = _implicit_sums(user_side)
    prior = np.stack([rng.normal(size=d), rng.uniform(0.5, 2, d)])
    alpha, mean = 1.7, 0.3
    user_side.sample_own(item_side, mean, alpha, prior, np.zeros((n_users, d)))
    x = np.column_stack([np.ones(len(items)), item_rows[items, 1:]])
    for u in range(n_users):
        mine = users == u
        target = ratings[mine] - mean - item_rows[items[mine], 0] - x[mine] @ user_side.sums[u]
        c = prec_r[mine]
        precision = np.diag(prior[1]) + alpha * x[mine].T @ (c[:, None] * x[mine])
        want = np.linalg.solve(precision, prior[1] * prior[0] + alpha * x[mine].T @ (c * target))
        assert np.allclose(user_side.own[u], want, rtol=1e-6, atol=1e-9)
    assert np.allclose(user_side.effective, user_side.own + user_side.sums)


def test_implicit_draw_matches_the_dense_conditional_and_keeps_bookkeeping_exact():
    """With zero noise a draw of Y_0 is its conditional mean given U and the other Y: the owners'
    P_r = U_r - w_r * (sum of r's Y) under P's diagonal prior, and Y_0's own prior. After the
    pass U is unchanged, and the sums and P equal a recomputation from scratch."""
    rng, users, items, ratings, prec_r, user_side, item_side = _state()
    n_items, d = 5, 3
    user_side.sums[:] = _implicit_sums(user_side)
    user_side.effective[:] = user_side.own + user_side.sums
    fixed, implicit = user_side.effective.copy(), user_side.implicit.copy()
    own_prior = np.stack([rng.normal(size=d), rng.uniform(0.5, 2, d)])
    y_prior = np.stack([rng.normal(size=d), rng.uniform(0.5, 2, d)])

    owners = users[items == 0]
    w = user_side.weight[owners][:, None]
    without = fixed[owners] - own_prior[0] - (user_side.sums[owners] - w * implicit[0])
    precision = own_prior[1] * (w**2).sum() + y_prior[1]
    want = (own_prior[1] * (w * without).sum(0) + y_prior[1] * y_prior[0]) / precision

    user_side.sample_implicit(item_side, own_prior, y_prior, np.zeros((n_items, d)))
    assert np.allclose(user_side.implicit[0], want, rtol=1e-12)
    assert np.array_equal(user_side.effective, fixed)
    assert np.allclose(user_side.sums, _implicit_sums(user_side))
    assert np.allclose(user_side.own, fixed - user_side.sums)


def test_an_implicit_draw_has_the_conditional_spread():
    """Draws of Y_0 with fresh noise scatter with the conditional's variance, 1 / precision
    per dimension, around its mean (the noise enters as it should, not only the mean)."""
    rng, users, items, ratings, prec_r, user_side, item_side = _state(seed=3)
    n_items, d = 5, 3
    user_side.sums[:] = _implicit_sums(user_side)
    user_side.effective[:] = user_side.own + user_side.sums
    own_prior = np.stack([np.zeros(d), rng.uniform(0.5, 2, d)])
    y_prior = np.stack([np.zeros(d), rng.uniform(0.5, 2, d)])
    w2 = (user_side.weight[users[items == 0]] ** 2).sum()
    start = (user_side.own.copy(), user_side.implicit.copy(), user_side.sums.copy())
    draws = []
    for _ in range(4000):
        user_side.own[:], user_side.implicit[:], user_side.sums[:] = (a.copy() for a in start)
        user_side.sample_implicit(item_side, own_prior, y_prior, rng.normal(size=(n_items, d)))
        draws.append(user_side.implicit[0].copy())
    variance = np.var(draws, axis=0)
    assert np.allclose(variance, 1 / (own_prior[1] * w2 + y_prior[1]), rtol=0.1)


def test_a_seed_gives_the_same_chain_on_any_thread_count(split):
    """Two runs with one seed give identical predictions, on 2 threads and on 1 (every
    parallel loop writes only its own rows; the noise is drawn up front from the seed)."""
    data = split.train
    threads = numba.get_num_threads()

    def predictions(n_threads):
        numba.set_num_threads(n_threads)
        try:
            average, _ = gibbs.fit_gibbs(
                data.users, data.items, data.ratings, data.n_users, data.n_items,
                n_factors=4, epochs=6, seed=5,
            )  # fmt: skip
            model = average.model()
        finally:
            numba.set_num_threads(threads)
        return model(torch.as_tensor(split.valid.users), torch.as_tensor(split.valid.items))

    first = predictions(threads)
    assert torch.equal(first, predictions(threads))
    assert torch.equal(first, predictions(1))


def test_robust_noise_trusts_an_erratic_user_less():
    users = np.repeat(np.arange(4), 50).astype(np.int32)
    items = np.tile(np.arange(50), 4).astype(np.int32)
    residuals = np.random.default_rng(0).normal(0, 0.5, 200).astype(np.float32)
    residuals[users == 2] *= 6  # user 2 rates at random

    def sides(noise):
        """Sides whose predictions are all 0, so the residuals are the ratings."""
        by_user, by_item = (
            _grouped(users, items, residuals, 4),
            _grouped(items, users, residuals, 50),
        )
        rng = np.random.default_rng(2)
        pair = (
            _Side(4, 50, 3, by_user, False, noise.user, rng),
            _Side(50, 4, 3, by_item, False, noise.item, rng),
        )
        for side in pair:
            side.effective[:] = 0.0
        return pair

    noise = _Noise(4, 50, robust=True)
    rng = np.random.default_rng(1)
    for _ in range(20):
        mse = noise.sample(*sides(noise), 0.0, rng)
    assert mse == pytest.approx(float(np.mean(residuals.astype(np.float64) ** 2)))
    assert noise.user[2] < 0.2 * np.delete(noise.user, 2).min()
    plain = _Noise(4, 50, robust=False)
    plain.sample(*sides(plain), 0.0, rng)
    assert np.all(plain.user == 1.0) and np.all(plain.item == 1.0)


@pytest.mark.slow
def test_implicit_and_robust_terms_help_on_ml100k(ml100k_dir):
    from embedrec.data import load_movielens_fold

    fold = load_movielens_fold(ml100k_dir, "u1")
    rmse = {
        flags: evaluate(
            train(fold, model="bmf", epochs=40, implicit=flags[0], robust=flags[1]), fold.valid
        )["rmse"]
        for flags in [(False, False), (True, True)]
    }
    assert rmse[(True, True)] < rmse[(False, False)] - 0.01
    assert rmse[(True, True)] < 0.90


def test_bmf_saves_loads_and_folds_in(split, tmp_path):
    rec = train(split, model="bmf", n_factors=4, epochs=20, seed=3)
    rec.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    users, items = split.valid.users, split.valid.items
    assert np.allclose(rec.predict_indices(users, items), loaded.predict_indices(users, items))
    assert loaded.config.options["implicit"] and loaded.config.n_factors == 4
    assert len(loaded.recommend(ratings={100: 5, 101: 1}, n=3)) == 3
    again = train(split, model="bmf", n_factors=4, epochs=20, seed=3)
    assert np.array_equal(rec.predict_indices(users, items), again.predict_indices(users, items))


def test_bmf_refuses_other_engines(split):
    with pytest.raises(
        ModelError,
        match=r"torch engine does not train bmf models.*: own \(its own trainer, gibbs\)",
    ):
        train(split, model="bmf", engine="torch")
