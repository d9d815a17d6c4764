import json

import pytest
from typer.testing import CliRunner

import embedrec
from embedrec import DataError
from embedrec.cli import app
from embedrec.protocols import protocol_splits, run_protocol
from tests.conftest import low_rank_frame


def test_kfold_protocol_covers_every_rating_once():
    frame = low_rank_frame(n_users=30, n_items=20, seed=2)
    splits = protocol_splits("kfold:4:1", frame)
    assert len(splits) == 4
    assert sum(len(s.valid) for s in splits) == len(frame)


def test_run_protocol_reports_folds_mean_and_spread():
    frame = low_rank_frame(n_users=30, n_items=20, seed=2)
    result = run_protocol("kfold:3", frame, epochs=2)
    rmses = [f["rmse"] for f in result["folds"]]
    assert len(rmses) == 3
    assert result["rmse_mean"] == pytest.approx(sum(rmses) / 3)
    assert result["rmse_std"] >= 0 and result["mae_mean"] > 0


def test_protocol_progress_is_a_line_per_fold_off_a_terminal(capsys):
    frame = low_rank_frame(n_users=30, n_items=20, seed=2)
    run_protocol("kfold:3", frame, epochs=2, progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fold")]
    assert [line.split(":")[0] for line in lines] == ["fold 1/3", "fold 2/3", "fold 3/3"]
    assert all("RMSE" in line for line in lines)


def test_unknown_protocol():
    with pytest.raises(DataError, match="unknown protocol"):
        protocol_splits("ml100k-u9", low_rank_frame())


def benchmark_json(ml100k_dir, monkeypatch, protocol: str, *options: str) -> dict:
    """`embedrec benchmark --protocol PROTOCOL --json` on the real MovieLens 100k."""
    monkeypatch.setenv("EMBEDREC_DATA", str(ml100k_dir.parent))
    command = ["benchmark", "--protocol", protocol, *options, "--json"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_ml100k_5fold_from_the_cli(ml100k_dir, monkeypatch):
    report = benchmark_json(ml100k_dir, monkeypatch, "ml100k-5fold", "--model", "bmf")
    assert [f["split"] for f in report["folds"]] == [f"ml100k-u{i}" for i in range(1, 6)]
    assert {"rmse_mean", "rmse_std", "mae_mean"} <= set(report)
    assert report["rmse_mean"] <= 0.89  # issue 5: the 5-fold target with default settings
    assert report["rmse_mean"] < report["baseline_rmse_mean"]


@pytest.mark.slow
def test_on_the_sparse_protocol_the_default_beats_the_bias_baseline(ml100k_dir, monkeypatch):
    """ml100k-sparse (80% of users cut to 1-4 training ratings): the issue's target, 1.5%
    below the bias baseline fitted in the same run."""
    report = benchmark_json(ml100k_dir, monkeypatch, "ml100k-sparse")
    assert report["rmse_mean"] <= 0.985 * report["baseline_rmse_mean"]


def test_ranking_protocol_has_the_popularity_row_and_each_system():
    frame = low_rank_frame(n_users=40, n_items=30, seed=5)
    configs = {
        "ease": embedrec.TrainConfig(model="ease"),
        "ials": embedrec.TrainConfig(model="ials", epochs=2),
    }
    report = embedrec.run_ranking_protocol("random:0.2:1", frame, configs, k=5)
    assert [row["system"] for row in report["rows"]] == ["most popular", "ease", "ials"]
    assert {"precision@5", "ndcg@5", "hit_rate@5", "coverage@5", "seconds"} <= set(
        report["rows"][0]
    )
    last = embedrec.run_ranking_protocol("leave-last-out", frame, configs, k=5)
    assert last["threshold"] is None  # every held-out item counts
    assert all(row["n_users"] == 40 for row in last["rows"])  # one held-out rating per user


def test_every_rmse_table_shows_the_bias_baseline():
    """The bias baseline is fitted on each fold's training side in the same run; on data that
    is not synthetic there is no noise floor to show."""
    frame = low_rank_frame(n_users=30, n_items=20, seed=2)
    result = run_protocol("kfold:3", frame, epochs=2)
    baselines = [f["baseline_rmse"] for f in result["folds"]]
    assert all(0 < b < 2 for b in baselines)
    assert result["baseline_rmse_mean"] == pytest.approx(sum(baselines) / 3)
    assert result["noise_floor_mean"] is None and result["folds"][0]["noise_floor"] is None


def test_synthetic_data_shows_its_noise_floor():
    from embedrec.data.synthetic import Preset, synthetic_ratings

    frame = synthetic_ratings(Preset(300, 200, 12_000, (1.0, 5.0), 1.0), seed=1)
    result = run_protocol("random:0.2:1", frame, model="dot-bias", epochs=2)
    assert 0.6 < result["noise_floor_mean"] < result["rmse_mean"]


def test_the_sparse_protocol_thins_ml100k_deterministically(ml100k_dir):
    """ml100k-sparse: the chapter's random 20% test side, untouched; 80% of the users keep
    1..4 training ratings; the same split every time."""
    data_dir = ml100k_dir.parent
    (sparse,) = protocol_splits("ml100k-sparse", "movielens-100k", data_dir)
    (chapter,) = protocol_splits("ml100k-random20", "movielens-100k", data_dir)
    assert len(sparse.valid) == len(chapter.valid) == 20_000
    counts = sparse.train.user_counts()
    assert 0.75 < (counts <= 4).mean() < 0.85 and counts.min() >= 1
    assert sparse.cold_rows().sum() > 50  # items whose every training rating was cut
    (again,) = protocol_splits("ml100k-sparse", "movielens-100k", data_dir)
    assert (again.train.users == sparse.train.users).all()
    assert (again.train.items == sparse.train.items).all()
