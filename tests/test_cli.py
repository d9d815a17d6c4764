"""The command line end to end: train -> saved model -> evaluate, lr-find, --json, errors."""

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

import embedrec
from embedrec.cli import app
from tests.conftest import low_rank_frame

runner = CliRunner()


def write_ratings(path):
    low_rank_frame(n_users=40, n_items=30, seed=4).rename(
        columns={"user": "customer", "item": "sku", "rating": "stars"}
    ).to_csv(path, index=False)
    return path


@pytest.fixture
def ratings_csv(tmp_path):
    return write_ratings(tmp_path / "ratings.csv")


def cols():
    return ["--user-col", "customer", "--item-col", "sku", "--rating-col", "stars"]


def test_train_then_evaluate_with_json(ratings_csv, tmp_path):
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(ratings_csv),
            *cols(),
            "--epochs",
            "3",
            "--lr",
            "0.03",
            "--n-factors",
            "8",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [h["epoch"] for h in report["history"]] == [0, 1, 2]
    assert set(report["history"][0]) == {
        "epoch",
        "train_loss",
        "valid_loss",
        "valid_rmse",
        "seconds",
        "metric",
        "valid_metric",
    }
    assert report["valid_rmse"] == pytest.approx(report["history"][-1]["valid_rmse"])
    assert (out / "weights.safetensors").is_file()
    evaluated = runner.invoke(
        app, ["evaluate", str(out), "--data", str(ratings_csv), *cols(), "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.stdout)
    assert metrics["rmse"] == pytest.approx(report["valid_rmse"])
    assert metrics["n_unknown"] == 0


def test_train_prints_the_epoch_table(ratings_csv, tmp_path):
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(ratings_csv),
            *cols(),
            "--epochs",
            "2",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "train_loss" in result.output and "valid_rmse" in result.output
    # the default, chosen on carved validation: a rating model with a ranker beside it
    assert "carved out for validation" in result.output
    assert re.search(r"saved (bmf|dot-bias)\+(ease|popular) model", result.output)
    assert "--model dot-bias trains an epoch" not in result.output


def test_train_warns_that_bmf_is_slow_on_large_data(ratings_csv, tmp_path, monkeypatch):
    import embedrec.learner

    monkeypatch.setattr(
        embedrec.learner, "LARGE_FOR_BMF", 100
    )  # the toy file stands in for 2M+ rows
    args = ["train", "--data", str(ratings_csv), *cols(), "--model", "bmf", "--epochs", "2"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert "--model dot-bias trains an epoch" in " ".join(result.output.split())


def test_nn_model_options(ratings_csv, tmp_path):
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(ratings_csv),
            *cols(),
            "--model",
            "nn",
            "--layers",
            "16,8",
            "--epochs",
            "1",
            "--no-y-range",
            "--out",
            str(tmp_path / "m"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    config = json.loads(result.stdout)["config"]
    assert config["options"]["layers"] == [16, 8] and config["y_range"] is None


def test_config_file_with_typed_override(ratings_csv, tmp_path):
    (tmp_path / "cfg.json").write_text(json.dumps({"epochs": 2, "wd": 0.05, "bs": 32}))
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(ratings_csv),
            *cols(),
            "--config",
            str(tmp_path / "cfg.json"),
            "--bs",
            "16",
            "--out",
            str(tmp_path / "m"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    config = json.loads(result.stdout)["config"]
    assert (config["epochs"], config["wd"], config["bs"]) == (2, 0.05, 16)


def test_will_not_overwrite_without_force(ratings_csv, tmp_path):
    args = [
        "train",
        "--data",
        str(ratings_csv),
        *cols(),
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "m"),
    ]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "--force" in again.output
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_force_never_replaces_a_folder_that_is_not_a_model(ratings_csv, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.json").write_text("{}")
    (project / "train.py").write_text("print('my own code')")
    args = ["train", "--data", str(ratings_csv), *cols(), "--epochs", "1", "--force"]
    result = runner.invoke(app, [*args, "--out", str(project)])
    assert result.exit_code == 2 and "not an embedrec model directory" in result.output
    assert (project / "train.py").read_text() == "print('my own code')"


def test_outputs_are_checked_before_any_work(model_dir, tmp_path):
    existing = tmp_path / "taken.png"
    existing.write_bytes(b"mine")
    for command in (
        ["explain", str(model_dir), "--plot", str(existing)],
        ["lr-find", "--data", "nowhere.csv", "--plot", str(existing)],
        ["synth", "--preset", "ml-100k", "--out", str(existing)],
        ["export", str(model_dir), "--format", "npz", "--out", str(existing)],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert "already exists; add --force" in result.output, command
    assert existing.read_bytes() == b"mine"


def test_help_shows_every_default():
    result = runner.invoke(app, ["train", "--help"])
    text = " ".join(result.output.split())
    for default in ("5e-3 for dot", "0.1 for dot", "64 for dot", "[default: auto"):
        assert default in text, default


def test_lr_find_saves_a_plot_and_suggests(ratings_csv, tmp_path):
    plot = tmp_path / "lr.png"
    result = runner.invoke(
        app, ["lr-find", "--data", str(ratings_csv), *cols(), "--plot", str(plot), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert 1e-7 < report["suggestion"] < 10
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--data", "missing.csv", "--out", "x"], "missing.csv: no such file"),
        (["train", "--data", "{odd}", "--out", "x"], "cannot tell which column holds the user"),
        (
            [
                "train",
                "--data",
                "{csv}",
                "--user-col",
                "customer",
                "--item-col",
                "sku",
                "--rating-col",
                "stars",
                "--split",
                "bogus",
                "--out",
                "x",
            ],
            "unknown split 'bogus'",
        ),
        (["evaluate", "nowhere", "--data", "{csv}"], "nowhere: no such model directory"),
        (
            [
                "train",
                "--data",
                "{csv}",
                *["--user-col", "customer", "--item-col", "sku", "--rating-col", "stars"],
                "--model",
                "svd",
                "--out",
                "x",
            ],
            "unknown model 'svd'",
        ),
    ],
)
def test_errors_are_one_clear_line(ratings_csv, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "odd.csv").write_text("who,what,how\n1,2,3\n")
    args = [a.replace("{csv}", str(ratings_csv)).replace("{odd}", "odd.csv") for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_train_on_real_movielens_by_name(u1_default):
    report, out = u1_default  # `train --data movielens-100k --split u1 --json`, in conftest
    assert report["split"] == "ml100k-u1" and report["n_train"] == 80_000
    assert report["valid_rmse"] <= 0.895  # issue 5's u1 target, with default settings
    assert (out / "config.json").is_file()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The default trained by the CLI once for the tests that only read it (it chooses its
    model on carved validation: many trainings)."""
    folder = tmp_path_factory.mktemp("cli")
    out = folder / "model"
    args = [
        "train",
        "--data",
        str(write_ratings(folder / "ratings.csv")),
        *cols(),
        "--epochs",
        "3",
        "--rating-scale",
        "1",
        "5",
        "--out",
        str(out),
    ]
    assert runner.invoke(app, args).exit_code == 0
    return out


def test_recommend_json_for_a_user_and_for_new_ratings(model_dir, tmp_path):
    result = runner.invoke(app, ["recommend", str(model_dir), "--user", "u1", "-n", "4", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["user"] == "u1" and report["fallback"] is False
    items = report["items"]
    # ranked by the default's ranker; the predicted rating comes beside the ranking score
    assert len(items) == 4 and set(items[0]) == {"item", "title", "score", "rating"}
    new = runner.invoke(
        app, ["recommend", str(model_dir), "--ratings", '{"100": 5, "101": 1}', "--json"]
    )
    assert new.exit_code == 0, new.output
    assert {100, 101}.isdisjoint(i["item"] for i in json.loads(new.stdout)["items"])
    (tmp_path / "mine.csv").write_text("item,rating\n100,5\n")
    from_file = runner.invoke(
        app, ["recommend", str(model_dir), "--ratings-file", str(tmp_path / "mine.csv"), "--json"]
    )
    assert from_file.exit_code == 0 and len(json.loads(from_file.stdout)["items"]) == 10
    unknown = runner.invoke(app, ["recommend", str(model_dir), "--user", "ghost", "--json"])
    assert unknown.exit_code == 2 and "unknown user 'ghost'" in unknown.output
    assert "Traceback" not in unknown.output


def test_similar_explain_predict_export(model_dir, tmp_path):
    similar = runner.invoke(app, ["similar", str(model_dir), "100", "--min-ratings", "5", "--json"])
    assert similar.exit_code == 0, similar.output
    report = json.loads(similar.stdout)
    assert report["item"] == "100" and 100 not in [i["item"] for i in report["similar"]]
    explain = runner.invoke(
        app,
        [
            "explain",
            str(model_dir),
            "-n",
            "3",
            "--plot",
            str(tmp_path / "map.png"),
            "--map-n",
            "10",
            "--json",
        ],
    )
    assert explain.exit_code == 0, explain.output
    report = json.loads(explain.stdout)
    assert len(report["item_bias"]["highest"]) == 3 and "user" in report["user_bias"]["lowest"][0]
    assert (tmp_path / "map.png").is_file()
    (tmp_path / "pairs.csv").write_text("user,item\nu1,100\nu1,999\n")
    predicted = runner.invoke(
        app, ["predict", str(model_dir), "--pairs", str(tmp_path / "pairs.csv"), "--json"]
    )
    rows = json.loads(predicted.stdout)["predictions"]
    assert rows[0]["score"] > 0 and rows[1]["error"] == "unknown item"
    for fmt, target in (("csv", "exp"), ("parquet", "pq"), ("npz", "f.npz")):
        result = runner.invoke(
            app, ["export", str(model_dir), "--format", fmt, "--out", str(tmp_path / target)]
        )
        assert result.exit_code == 0, result.output
    arrays = np.load(tmp_path / "f.npz")
    assert arrays["item_factors"].shape[0] == arrays["item_ids"].shape[0] == 30


def test_old_flag_spellings_still_work_with_a_note_naming_the_new(model_dir, ratings_csv, tmp_path):
    """`--factors`, `explain --top`, `--n-items` were renamed `--n-factors` (TrainConfig's
    n_factors), `-n` (how many, as in recommend) and `--map-n` (as /map?n=)."""
    plot = str(tmp_path / "map.png")
    new = runner.invoke(app, ["explain", str(model_dir), "-n", "2", "--json"])
    old = runner.invoke(
        app, ["explain", str(model_dir), "--top", "2", "--n-items", "5", "--plot", plot, "--json"]
    )
    assert old.exit_code == 0, old.output
    assert "--top is renamed --n" in old.stderr and "--n-items is renamed --map-n" in old.stderr
    assert json.loads(old.stdout)["item_bias"] == json.loads(new.stdout)["item_bias"]
    out = tmp_path / "old"
    args = ["train", "--data", str(ratings_csv), *cols(), "--epochs", "1", "--factors", "4"]
    trained = runner.invoke(app, [*args, "--out", str(out)])
    assert trained.exit_code == 0, trained.output
    assert "--factors is renamed --n-factors" in trained.stderr
    assert embedrec.load(out).config.n_factors == 4


def test_an_old_and_a_new_spelling_at_odds_are_refused(model_dir):
    """`--top 3 --n 4` cannot mean both: the command says so instead of taking one silently."""
    both = runner.invoke(app, ["explain", str(model_dir), "--top", "3", "--n", "4"])
    assert both.exit_code == 2
    assert "--n 4 and --top 3 are one option" in both.output


def test_evaluate_with_ranking(model_dir, ratings_csv):
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(model_dir),
            "--data",
            str(ratings_csv),
            *cols(),
            "--ranking",
            "--k",
            "5",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    ranking = json.loads(result.stdout)["ranking"]
    assert {"precision@5", "recall@5", "ndcg@5", "map@5", "hit_rate@5", "coverage@5"} <= set(
        ranking
    )


def test_synth_then_train_with_the_fused_engine(tmp_path):
    data = tmp_path / "synthetic.parquet"
    made = runner.invoke(app, ["synth", "--preset", "ml-100k", "--out", str(data), "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["path"] == str(data)
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(data),
            "--model",
            "dot-bias",
            "--engine",
            "fused",
            "--threads",
            "1",
            "--epochs",
            "2",
            "--out",
            str(tmp_path / "m"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["config"]["engine"] == "fused" and report["valid_rmse"] < 1.2
    # the generator knows its noise: the true model's RMSE on the same rows, below any model's
    assert 0.6 < report["noise_floor"] < report["valid_rmse"]
    text = runner.invoke(
        app,
        ["train", "--data", str(data), "--model", "dot-bias", "--epochs", "1", "--out",
         str(tmp_path / "m2")],
    )  # fmt: skip
    assert text.exit_code == 0, text.output
    assert f"noise floor {report['noise_floor']:.4f}" in text.stdout


def test_a_split_made_as_two_files(tmp_path):
    frame = low_rank_frame(n_users=40, n_items=30, seed=6)
    train_rows, test_rows = frame.iloc[:450].copy(), frame.iloc[450:].copy()
    test_rows.loc[test_rows.index[:3], "user"] = "stranger"  # a user the training file lacks
    train_rows.to_csv(tmp_path / "train.csv", index=False)
    test_rows.to_csv(tmp_path / "test.csv", index=False)
    files = ["--data", str(tmp_path / "train.csv")]
    trained = runner.invoke(
        app,
        [
            "train", *files, "--valid", str(tmp_path / "test.csv"), "--model", "dot-bias",
            "--epochs", "2", "--out", str(tmp_path / "m"), "--json",
        ],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    assert report["n_train"] == 450 and report["n_valid"] == len(test_rows)  # nothing dropped
    assert report["n_cold"] >= 3  # the stranger's rows: kept, scored by the baseline
    test = ["--test", str(tmp_path / "test.csv"), "--json"]
    evaluated = runner.invoke(app, ["evaluate", str(tmp_path / "m"), *files, *test])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.stdout)
    assert metrics["n"] == len(test_rows) and metrics["n_cold"] >= 3
    assert metrics["rmse"] == pytest.approx(report["valid_rmse"])
    everything = runner.invoke(
        app, ["train", *files, "--valid-pct", "0", "--model", "dot", "--epochs", "1",
              "--out", str(tmp_path / "all"), "--json"],
    )  # fmt: skip
    assert everything.exit_code == 0, everything.output
    assert json.loads(everything.stdout)["n_train"] == 450
    # a model that never saw the stranger: those rows are scored by the baseline, counted apart
    unseen = runner.invoke(app, ["evaluate", str(tmp_path / "all"), *test[:2]])
    assert unseen.exit_code == 0, unseen.output
    assert "never saw" in unseen.stdout and "warm rows: RMSE" in unseen.stdout
    metrics = json.loads(runner.invoke(app, ["evaluate", str(tmp_path / "all"), *test]).stdout)
    assert metrics["n"] == len(test_rows) and metrics["n_cold"] >= metrics["n_unknown"] >= 3


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--keep", "worst"], "keep (--keep) must be one of last, best"),
        (["--patience", "0"], "patience (--patience) must be at least 1"),
        (["--blend", "-1"], "blend (--blend) must be at least 0"),
        (["--ranker", "dot-bias"], "is a rating model; name a ranking model"),
        (["--ranker", "nosuch"], "unknown model 'nosuch'"),
        (["--model", "ease", "--option", "l2"], "--option takes KEY=VALUE"),
        (["--model", "ease", "--option", "l2=-3"], "ease model option l2"),
        (["--model", "ease", "--option", "nosuch=1"], "its options: l2"),
        (["--ranker-option", "alpha0=0", "--ranker", "ials"], "ials model option alpha0"),
        (["--split", "u1", "--valid", "{csv}"], "give a split or a validation file, not both"),
    ],
)
def test_bad_training_options_are_one_clear_line(ratings_csv, tmp_path, extra, message):
    extra = [a.replace("{csv}", str(ratings_csv)) for a in extra]
    args = ["train", "--data", str(ratings_csv), *cols(), "--epochs", "1", *extra]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "m")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_data_set_dir_is_remembered_and_shown(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBEDREC_DATA", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    shown = runner.invoke(app, ["data", "show", "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["source"] == "default"
    result = runner.invoke(app, ["data", "set-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(app, ["data", "show", "--json"])
    assert json.loads(shown.stdout) == {"data_dir": str(tmp_path / "data"), "source": "config"}
    monkeypatch.setenv("EMBEDREC_DATA", str(tmp_path / "env"))
    shown = runner.invoke(app, ["data", "show"])
    assert shown.stdout.startswith(f"{tmp_path / 'env'} (from $EMBEDREC_DATA)")
    (tmp_path / "file").write_text("x")
    refused = runner.invoke(app, ["data", "set-dir", str(tmp_path / "file")])
    assert refused.exit_code == 2 and "not a folder" in refused.output
