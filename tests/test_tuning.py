import json

import pytest
from typer.testing import CliRunner

from embedrec import OutputExistsError, TrainConfig, random_split, ratings_from_frame
from embedrec.cli import app
from embedrec.tuning import TuneResult, tune
from tests.conftest import low_rank_frame


def test_tune_never_sees_the_test_side(monkeypatch):
    split = random_split(ratings_from_frame(low_rank_frame(seed=3), rating_scale=(1, 5)), 0.2, 0)
    test_pairs = set(zip(split.valid.users.tolist(), split.valid.items.tolist()))
    seen_in_search = []

    import embedrec.tuning as tuning

    real_train = tuning.train

    def spying_train(data, config):
        seen_in_search.append(data)
        return real_train(data, config)

    monkeypatch.setattr(tuning, "train", spying_train)
    result = tune(split, TrainConfig(model="bmf"), trials=3, seed=1)
    assert len(result.trials) == 3 and result.best_valid_rmse == min(
        t["valid_rmse"] for t in result.trials
    )
    for data in seen_in_search[:-1]:  # the search: train and valid both from split.train
        for side in (data.train, data.valid):
            assert not test_pairs & set(zip(side.users.tolist(), side.items.tolist()))
    assert seen_in_search[-1] is split  # the final refit on all training data, for the report
    assert result.test_rmse is not None


def test_tune_cli_saves_a_config_train_can_use(tmp_path):
    data = tmp_path / "r.csv"
    low_rank_frame(seed=4).to_csv(data, index=False)
    best = tmp_path / "best.json"
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["tune", "--data", str(data), "--model", "bmf", "--trials", "3"]
        + ["--out", str(best), "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert json.loads(best.read_text()) == report["best"]
    trained = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(data),
            "--config",
            str(best),
            "--out",
            str(tmp_path / "m"),
            "--json",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["config"]["epochs"] == report["best"]["epochs"]
    saved = best.read_text()
    with pytest.raises(OutputExistsError, match="already exists"):
        TuneResult(TrainConfig(model="dot-bias"), 0.0, None, []).save(best)
    assert best.read_text() == saved


def test_tune_off_a_terminal_prints_a_line_per_trial(capsys):
    split = random_split(ratings_from_frame(low_rank_frame(seed=3), rating_scale=(1, 5)), 0.2, 0)
    tune(split, TrainConfig(model="bmf"), trials=3, seed=1, progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("trial")]
    assert [line.split(":")[0] for line in lines] == ["trial 1/3", "trial 2/3", "trial 3/3"]
    assert all("valid RMSE" in line and "best" in line for line in lines)
