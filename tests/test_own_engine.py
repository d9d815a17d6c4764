"""The kinds with an algorithm of their own (bmf's Gibbs sampler, ials's ALS, the closed-form
kinds' solve, an average's members) own their trainer and train on one engine, `own`, through
the shared epoch loop; the engine names they had before (`gibbs`, `als`, `direct`, `members`)
still train them, deprecated. (The loop's validation, keep="best" and patience on these kinds:
tests/test_validation_metric.py.)"""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import embedrec
from embedrec import ModelError, TrainConfig, random_split, ratings_from_frame, train
from embedrec.cli import app
from embedrec.models.bias import BiasKind
from embedrec.models.capabilities import OwnTrainer
from embedrec.models.registry import build, kinds, resolve
from embedrec.training import choose_engine, engine_names, fit
from tests.conftest import low_rank_frame

SRC = Path(__file__).resolve().parents[1] / "src"
TRAINERS = {
    "average": "members",
    "bias": "direct",
    "bmf": "gibbs",
    "ease": "direct",
    "ials": "als",
    "popular": "direct",
}


@pytest.fixture(scope="module")
def split():
    frame = low_rank_frame(n_users=40, n_items=30, seed=3)
    return random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)


@pytest.mark.parametrize("name", [n for n, kind in kinds().items() if kind.by_name])
def test_a_kind_with_its_own_trainer_trains_on_the_own_engine_and_no_other(split, name):
    config = resolve(TrainConfig(model=name, device="cpu"))
    model = build(config, split.train)
    own = isinstance(model, OwnTrainer)
    assert own == (name in TRAINERS)
    assert (choose_engine(model, config).name == "own") == own
    if own:
        assert model.trainer == TRAINERS[name] and model.engines == ("own",)


def test_the_help_lists_own_and_not_the_earlier_names():
    assert engine_names() == ["auto", "fused", "torch", "own"]


@pytest.mark.parametrize("model, old", [("bmf", "gibbs"), ("ials", "als"), ("ease", "direct")])
def test_an_earlier_engine_name_trains_its_kind_the_same_and_is_deprecated(split, model, old):
    options = dict(model=model, epochs=3, device="cpu", seed=5)
    with pytest.warns(DeprecationWarning, match=f"engine '{old}' is engine 'own' now"):
        before = train(split, engine=old, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the new name says nothing
        now = train(split, engine="own", **options)
    assert before.engine == now.engine == old
    arrays = now.model.arrays()
    for key, value in before.model.arrays().items():
        np.testing.assert_array_equal(value, arrays[key])


def test_an_earlier_engine_name_of_another_kind_is_refused_by_that_name(split):
    with (
        pytest.warns(DeprecationWarning),
        pytest.raises(ModelError, match="the gibbs engine does not train ials"),
    ):
        train(split, model="ials", engine="gibbs", epochs=1, device="cpu")
    with pytest.raises(ModelError, match="the own engine does not train nn"):
        train(split, model="nn", engine="own", epochs=1, device="cpu")


def test_a_config_file_that_recorded_an_earlier_engine_name_still_trains(split, tmp_path):
    data = tmp_path / "ratings.csv"
    low_rank_frame(n_users=40, n_items=30, seed=3).to_csv(data, index=False)
    (tmp_path / "run.json").write_text(json.dumps({"model": "bmf", "engine": "gibbs", "epochs": 4}))
    args = ["train", "--data", str(data), "--config", str(tmp_path / "run.json")]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "m"), "--json"])
    assert result.exit_code == 0, result.output
    saved = embedrec.load(tmp_path / "m")
    assert saved.engine == "gibbs" and len(saved.history) == 4


class EarlierBias(BiasKind):
    """A kind written before the `own` engine: it lists its engine as `ClosedFormModel` did."""

    engines = ("direct",)


@pytest.mark.parametrize("engine", ["auto", "own"])
def test_a_kind_that_still_lists_an_earlier_engine_name_trains_on_own(split, engine):
    config = resolve(TrainConfig(model="bias", device="cpu", engine=engine))
    model = EarlierBias.build(config, split.train)
    assert choose_engine(model, config).name == "own"
    _, label, trained = fit(model, split.train, config)
    plain = build(config, split.train)
    fit(plain, split.train, config)
    assert label == "direct"
    users, items = split.valid.users, split.valid.items
    np.testing.assert_array_equal(trained.predict(users, items), plain.predict(users, items))


def test_a_script_that_names_an_earlier_engine_is_told_once_at_its_own_line(tmp_path):
    """Python shows a DeprecationWarning only where it is attributed to the user's script,
    not to embedrec's frames between it and the check."""
    script = tmp_path / "run.py"
    script.write_text(
        "import embedrec\n"
        "from tests.conftest import low_rank_frame\n"
        "ratings = embedrec.ratings_from_frame(low_rank_frame(n_users=20, n_items=15))\n"
        "rec = embedrec.train(ratings, model='bias', engine='direct')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(SRC.parent)])}
    env.pop("PYTHONWARNINGS", None)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count("engine 'direct' is engine 'own' now") == 1, done.stderr
    assert f"{script}:4: DeprecationWarning" in done.stderr
