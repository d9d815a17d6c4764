"""Defaults that adapt to the data and say what they picked: bmf by density and size (on
sparse data users with one or two ratings no worse than the bias baseline), dot-bias by size."""

import json

import numpy as np
import torch
from typer.testing import CliRunner

from embedrec import TrainConfig, random_split, ratings_from_frame, train
from embedrec.cli import app
from embedrec.models import BiasBaseline, DotProductBias
from embedrec.models import bmf as bmf_module
from embedrec.models.bmf import BayesianMFKind, shrunk_to_baseline
from tests.conftest import low_rank_frame


def ratings(density: float, n_users: int = 30, n_items: int = 80):
    frame = low_rank_frame(n_users=n_users, n_items=n_items, density=density)
    return ratings_from_frame(frame)


def test_defaults_follow_the_datas_density_and_say_so():
    dense, note = BayesianMFKind.defaults_for(ratings(0.5))  # 40 ratings per user
    assert dense == {
        "n_factors": 10, "epochs": 200,
        "options": {"shrink": 0.0, "implicit": True, "robust": True},
    }  # fmt: skip
    assert "dense data (median" in note and "cold rows scored by the bias baseline" in note
    # few ratings per user, many per item (as ml100k-sparse)
    sparse, note = BayesianMFKind.defaults_for(ratings(0.1, n_users=300, n_items=40))
    assert sparse == {
        "n_factors": 4, "epochs": 300,
        "options": {"shrink": 2.0, "implicit": True, "robust": True},
    }  # fmt: skip
    assert "sparse data (median 4 ratings per user, under 20)" in note and "n/(n+2)" in note
    # few on both sides (as the `sparse` synthetic preset): the classic BPMF terms only
    both, note = BayesianMFKind.defaults_for(ratings(0.05))
    assert both["n_factors"] == 4 and not both["options"]["implicit"]
    assert not both["options"]["robust"]
    assert "no implicit terms or per-row noise" in note


def test_large_data_gets_the_sweeps_that_fit_the_budget(monkeypatch):
    data = ratings(0.5)  # about 1,200 ratings: a budget that leaves them what 25M would have
    monkeypatch.setattr(
        bmf_module, "SWEEP_BUDGET_SECONDS", bmf_module.SWEEP_SECONDS * len(data) * 12.5
    )
    picked, note = BayesianMFKind.defaults_for(data)
    assert picked["epochs"] == 12 and "12 sweeps (not 200" in note


def test_the_note_names_only_what_was_picked_and_the_budget_counts_the_users_rank(monkeypatch):
    data = ratings(0.5)
    monkeypatch.setattr(
        bmf_module, "SWEEP_BUDGET_SECONDS", bmf_module.SWEEP_SECONDS * len(data) * 12.5
    )
    _, note = BayesianMFKind.defaults_for(data, TrainConfig(model="bmf", n_factors=32))
    assert "rank" not in note.split(": ", 1)[1]
    assert "10 sweeps (not 200" in note  # rank 32 costs 9x rank 10: the floor of 10 sweeps
    _, note = BayesianMFKind.defaults_for(
        data, TrainConfig(model="bmf", n_factors=3, epochs=5, implicit=True, robust=True)
    )
    assert note is None  # nothing left to pick on dense data


def test_what_the_user_sets_wins_and_the_rest_is_picked():
    split = random_split(ratings(0.05), 0.2, 0)
    rec = train(split, model="bmf", n_factors=3, epochs=5)
    assert rec.config.n_factors == 3 and rec.config.epochs == 5
    assert rec.config.options["shrink"] == 2.0  # unset: picked for sparse data
    rec = train(split, model="bmf", epochs=5, options={"shrink": 0.0})
    assert rec.config.n_factors == 4 and rec.config.options["shrink"] == 0.0


def test_the_shrunk_model_is_the_blend_with_the_baseline():
    """One DotProductBias scores w * model + (1 - w) * baseline, w = n_u/(n_u+k) n_i/(n_i+k)."""
    rng = np.random.default_rng(0)
    network = DotProductBias.from_arrays(
        rng.normal(size=(5, 3)), rng.normal(size=(4, 3)), rng.normal(size=5), 3 + rng.normal(size=4)
    )
    baseline = BiasBaseline(3.2, rng.normal(size=5).astype(np.float32), rng.normal(size=4))
    user_counts, item_counts = np.array([0, 1, 2, 5, 40]), np.array([1, 3, 0, 9])
    blended = shrunk_to_baseline(network, baseline, user_counts, item_counts, 2.0)
    users, items = np.repeat(np.arange(5), 4), np.tile(np.arange(4), 5)
    with torch.no_grad():
        model = network(torch.as_tensor(users), torch.as_tensor(items)).numpy()
        got = blended(torch.as_tensor(users), torch.as_tensor(items)).numpy()
    w = (
        user_counts[users]
        / (user_counts[users] + 2)
        * item_counts[items]
        / (item_counts[items] + 2)
    )
    want = w * model + (1 - w) * baseline.predict(users, items)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_train_prints_what_it_picked(tmp_path):
    data = tmp_path / "sparse.csv"
    low_rank_frame(n_users=30, n_items=80, density=0.05).to_csv(data, index=False)
    result = CliRunner().invoke(
        app,
        ["train", "--data", str(data), "--model", "bmf", "--epochs", "5"]
        + ["--out", str(tmp_path / "m")],
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "bmf defaults for" in text and "rank 4" in text and "n/(n+2)" in text


def test_dot_bias_decays_less_on_more_ratings():
    """The chapter's wd 0.1 up to its 80,000 training ratings; past them the same decay an
    epoch (0.1 x 80,000 / ratings), said in a line: wd 0.1 underfits at 1M."""
    from embedrec.data.synthetic import Preset, synthetic_ratings
    from embedrec.models.dot import DotProductBiasKind

    small, note = DotProductBiasKind.defaults_for(ratings(0.5))
    assert small["wd"] == 0.1 and note is None
    frame = synthetic_ratings(Preset(2_000, 1_000, 160_000, (1.0, 5.0), 1.0), seed=0)
    large, note = DotProductBiasKind.defaults_for(ratings_from_frame(frame))
    assert large == {"n_factors": 50, "epochs": 5, "wd": 0.05, "lr": 5e-3, "bs": 64}
    assert note is not None and "wd 0.05 (0.1 x 80,000 / training ratings" in note
    rec = train(random_split(ratings_from_frame(frame), 0.2, 0), model="dot-bias", epochs=1)
    assert rec.config.wd == 0.062  # 128,000 training ratings, two significant digits
    chosen = train(random_split(ratings(0.5), 0.2, 0), model="dot-bias", epochs=1, wd=0.3)
    assert chosen.config.wd == 0.3


def test_a_wd_given_on_many_ratings_is_kept_and_no_line_names_another(tmp_path):
    """`--wd 0` past 80,000 ratings (docs/training.md's example at 25M) trains with 0 and
    prints no "defaults ... wd 0.0..." line; with no --wd the line says what was picked."""
    from embedrec.data.synthetic import Preset, synthetic_ratings

    frame = synthetic_ratings(Preset(2_000, 1_000, 160_000, (1.0, 5.0), 1.0), seed=0)
    data = tmp_path / "ratings.csv"
    frame.to_csv(data, index=False)
    outputs = {}
    for given in ([], ["--wd", "0"]):
        out = tmp_path / f"m{len(given)}"
        args = ["train", "--data", str(data), "--model", "dot-bias", "--epochs", "1"]
        result = CliRunner().invoke(app, [*args, *given, "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs[bool(given)] = " ".join(result.output.split())
        wd = json.loads((out / "config.json").read_text())["train_config"]["wd"]
        assert wd == (0.0 if given else 0.062)
    assert "dot-bias defaults for 128,000 ratings: wd 0.062" in outputs[False]
    assert "defaults for" not in outputs[True]


def test_an_averages_members_pick_from_the_data_as_they_would_alone():
    split = random_split(ratings(0.05), 0.2, 0)
    members = [{"model": "bmf"}, {"model": "bmf"}]
    rec = train(split, model="average", members=members, epochs=5, ranker=None)
    for member in rec.model.member_configs:
        assert member.n_factors == 4 and member.options["shrink"] == 2.0  # sparse data's picks
        assert member.epochs == 5  # what the average set
