"""Hostile-input corpus, part 2: what a user types. Training options (each refused before any
data is read or anything written), a new user's ratings for fold-in, the options of the commands
that use a model, and the same mistakes made through the Python API.

Every CLI case asserts exit code 2, one `error:` line naming the option, the id or the item, no
traceback, and no model written; every API case asserts our own error type with such a message.
"""

from __future__ import annotations

import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import typer
from typer.testing import CliRunner

import embedrec
from embedrec.cli.common import handle_errors
from embedrec.cli.serve import checked_log_level
from tests.conftest import low_rank_frame
from tests.hostile import assert_refused, invoke

# (case id, options, texts the error line must hold)
TRAIN_OPTIONS = [
    ("epochs-0", ["--epochs", "0"], ["--epochs"]),
    ("epochs-negative", ["--epochs", "-1"], ["--epochs"]),
    ("epochs-huge", ["--epochs", "1000000000"], ["--epochs"]),
    ("epochs-word", ["--epochs", "abc"], ["--epochs"]),
    ("factors-0", ["--n-factors", "0"], ["--n-factors"]),
    ("factors-negative", ["--n-factors", "-5"], ["--n-factors"]),
    ("factors-huge", ["--n-factors", "100000000"], ["--n-factors"]),
    ("factors-old-spelling-0", ["--factors", "0"], ["--n-factors"]),
    ("lr-0", ["--lr", "0"], ["--lr"]),
    ("lr-negative", ["--lr", "-1"], ["--lr"]),
    ("lr-nan", ["--lr", "nan"], ["--lr"]),
    ("lr-inf", ["--lr", "inf"], ["--lr"]),
    ("lr-huge", ["--lr", "1e9"], ["--lr"]),
    ("wd-negative", ["--wd", "-1"], ["--wd"]),
    ("wd-nan", ["--wd", "nan"], ["--wd"]),
    ("wd-inf", ["--wd", "inf"], ["--wd"]),
    ("bs-0", ["--bs", "0"], ["--bs"]),
    ("bs-negative", ["--bs", "-1"], ["--bs"]),
    ("bs-huge", ["--bs", str(2**30)], ["--bs"]),
    ("bs-1-for-nn", ["--model", "nn", "--bs", "1"], ["--bs"]),
    ("dropout-negative", ["--model", "nn", "--dropout", "-0.1"], ["--dropout"]),
    ("dropout-1", ["--model", "nn", "--dropout", "1"], ["--dropout"]),
    ("dropout-1.5", ["--model", "nn", "--dropout", "1.5"], ["--dropout"]),
    ("dropout-nan", ["--model", "nn", "--dropout", "nan"], ["--dropout"]),
    ("layers-0", ["--model", "nn", "--layers", "0"], ["--layers"]),
    ("layers-negative", ["--model", "nn", "--layers", "-3"], ["--layers"]),
    ("layers-words", ["--model", "nn", "--layers", "a,b"], ["--layers"]),
    ("layers-empty", ["--model", "nn", "--layers", ""], ["--layers"]),
    ("layers-second-0", ["--model", "nn", "--layers", "100,0"], ["--layers"]),
    ("loss-unknown", ["--model", "nn", "--loss", "hinge"], ["--loss"]),
    ("loss-empty", ["--loss", ""], ["--loss"]),
    ("schedule-foo", ["--schedule", "foo"], ["--schedule"]),
    ("schedule-empty", ["--schedule", ""], ["--schedule"]),
    ("seed-negative", ["--seed", "-1"], ["seed"]),
    ("seed-huge", ["--seed", str(2**40)], ["seed"]),
    ("threads-0", ["--threads", "0"], ["--threads"]),
    ("threads-negative", ["--threads", "-1"], ["--threads"]),
    ("threads-past-cores", ["--threads", "4000"], ["--threads"]),
    ("threads-huge", ["--threads", "100000"], ["--threads"]),
    ("y-range-inverted", ["--y-range", "5", "1"], ["y_range"]),
    ("y-range-equal", ["--y-range", "1", "1"], ["y_range"]),
    ("y-range-nan", ["--y-range", "nan", "5"], ["--y-range"]),
    ("y-range-inf", ["--y-range", "0", "inf"], ["--y-range"]),
    ("patience-0", ["--patience", "0"], ["--patience"]),
    ("patience-negative", ["--patience", "-1"], ["--patience"]),
    ("keep-worst", ["--keep", "worst"], ["--keep"]),
    ("blend-negative", ["--blend", "-1"], ["--blend"]),
    ("blend-nan", ["--blend", "nan"], ["--blend"]),
    ("blend-inf", ["--blend", "inf"], ["--blend"]),
    ("weights-words", ["--model", "average", "--weights", "a,b"], ["--weights"]),
    ("weights-count", ["--model", "average", "--weights", "1,2"], ["weights"]),
    ("weights-negative", ["--model", "average", "--weights", "-1,1,1"], ["weights"]),
    ("weights-zero", ["--model", "average", "--weights", "0,0,0"], ["weights"]),
    ("weights-nan", ["--model", "average", "--weights", "nan,1,1"], ["weights"]),
    ("members-empty", ["--members", ""], ["model"]),
    ("members-average", ["--members", "average,bmf"], ["average"]),
    ("members-unknown", ["--members", "foo,bmf"], ["foo"]),
    ("model-unknown", ["--model", "foo"], ["foo", "bmf"]),
    ("model-empty", ["--model", ""], ["model"]),
    ("model-case", ["--model", "BMF"], ["BMF"]),
    ("engine-unknown", ["--engine", "warp"], ["warp"]),
    ("engine-wrong-for-model", ["--model", "nn", "--engine", "gibbs"], ["gibbs"]),
    ("device-unknown", ["--device", "tpu"], ["tpu"]),
    ("device-cuda-99", ["--device", "cuda:99"], ["cuda"]),
    ("ranker-unknown", ["--ranker", "nosuch"], ["nosuch"]),
    ("ranker-rating-model", ["--ranker", "dot-bias"], ["dot-bias"]),
    ("option-no-value", ["--model", "ease", "--option", "l2"], ["--option"]),
    ("option-negative", ["--model", "ease", "--option", "l2=-3"], ["l2"]),
    ("option-word", ["--model", "ease", "--option", "l2=abc"], ["l2"]),
    ("option-unknown", ["--model", "ease", "--option", "nosuch=1"], ["nosuch"]),
    ("bmf-shrink-negative", ["--option", "shrink=-1"], ["shrink"]),
    ("bmf-shrink-word", ["--option", "shrink=abc"], ["shrink"]),
    ("option-empty-key", ["--model", "ease", "--option", "=1"], ["--option"]),
    ("ranker-option-bad", ["--ranker", "ials", "--ranker-option", "alpha0=0"], ["alpha0"]),
    ("ranker-option-unknown", ["--ranker", "ials", "--ranker-option", "zz=1"], ["zz"]),
    ("option-l2-1e999", ["--model", "ease", "--option", "l2=1e999"], ["l2", "finite"]),
    ("option-l2-nan", ["--model", "ease", "--option", "l2=nan"], ["l2", "finite"]),
    ("option-min-rating-99", ["--model", "ease", "--option", "min_rating=99"], ["min_rating 99"]),
    ("ials-min-rating-99", ["--model", "ials", "--option", "min_rating=99"], ["min_rating 99"]),
    ("ranker-option-auto-unknown", ["--ranker-option", "zz=1"], ["zz", "--ranker"]),
    ("ranker-option-auto-ials-only", ["--ranker-option", "alpha0=0.5"], ["alpha0", "ease"]),
]


@pytest.mark.parametrize(
    "options, expected", [c[1:] for c in TRAIN_OPTIONS], ids=[c[0] for c in TRAIN_OPTIONS]
)
def test_a_bad_training_option_is_one_line_naming_it(tmp_path, good_csv, options, expected):
    result = invoke("train", "--data", good_csv, *options, "--out", tmp_path / "m")
    assert_refused(result, *expected)
    assert not (tmp_path / "m").exists()


def test_a_ranker_too_large_for_memory_is_refused_before_the_model_trains(tmp_path, good_csv):
    result = invoke(
        "train", "--data", good_csv, "--model", "dot-bias", "--epochs", "1", "--ranker", "ease",
        "--ranker-option", "max_gb=1e-9", "--out", tmp_path / "m",
    )  # fmt: skip
    assert_refused(result, "ease", "max_gb")
    assert "train_loss" not in result.output  # no epoch table: nothing trained first


def test_training_options_are_checked_before_the_data_is_read(tmp_path):
    """A typo in an option is reported at once, not after a long load (the data is absent)."""
    result = invoke("train", "--data", tmp_path / "absent.csv", "--model", "foo", "--out", "m")
    assert_refused(result, "unknown model 'foo'")


# (case id, --ratings JSON, texts the error line must hold); the model's scale is 1..5
FOLD_IN = [
    ("rating-99", '{"100": 99}', ["100", "scale"]),
    ("rating-minus-99", '{"100": -99}', ["100", "scale"]),
    ("rating-0", '{"100": 0}', ["100", "scale"]),
    ("rating-just-above", '{"100": 5.0001}', ["100", "scale"]),
    ("rating-NaN", '{"100": NaN}', ["100"]),
    ("rating-Infinity", '{"100": Infinity}', ["100"]),
    ("rating-minus-Infinity", '{"100": -Infinity}', ["100"]),
    ("rating-1e400", '{"100": 1e400}', ["100"]),
    ("rating-word", '{"100": "abc"}', ["100", "abc"]),
    ("rating-null", '{"100": null}', ["100"]),
    ("rating-list", '{"100": [4]}', ["100"]),
    ("rating-object", '{"100": {"v": 4}}', ["100"]),
    ("rating-true", '{"100": true}', ["100"]),
    ("rating-5-stars", '{"100": "5 stars"}', ["100"]),
    ("second-rating-bad", '{"100": 4, "101": "x"}', ["101"]),
    ("unknown-item", '{"nosuch-item": 4}', ["nosuch-item"]),
    ("a-list", "[1, 2]", ["--ratings"]),
    ("a-string", '"x"', ["--ratings"]),
    ("a-number", "5", ["--ratings"]),
    ("not-json", "{100: 5}", ["--ratings"]),
    ("trailing-comma", '{"100": 5,}', ["--ratings"]),
    ("empty-text", "", ["--ratings"]),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in FOLD_IN], ids=[c[0] for c in FOLD_IN])
def test_bad_fold_in_ratings_are_one_line_naming_the_item(trained_dir, text, expected):
    assert_refused(invoke("recommend", trained_dir, "--ratings", text), *expected)


# JSON nested deeper than Python's decoder recurses: (case id, command line, texts the error
# line must hold); {deep} is the document, {file} a file holding it
DEEP = "[" * 50_000 + "]" * 50_000
NESTED = [
    ("config-file", ["train", "--data", "{csv}", "--config", "{file}", "--out", "{tmp}/m"], ["deep.json", "nested"]),
    ("ratings-file", ["recommend", "{model}", "--ratings-file", "{file}"], ["deep.json", "nested"]),
    ("ratings-text", ["recommend", "{model}", "--ratings", "{deep}"], ["--ratings", "nested"]),
    ("liked-text", ["recommend", "{model}", "--liked", "{deep}"], ["--liked", "nested"]),
    ("option-value", ["train", "--data", "{csv}", "--model", "ease", "--option", "l2={deep}", "--out", "{tmp}/m"], ["l2"]),
    ("settings-file", ["data", "show"], ["config.json", "nested"]),
]  # fmt: skip


@pytest.mark.parametrize("args, expected", [c[1:] for c in NESTED], ids=[c[0] for c in NESTED])
def test_json_nested_too_deep_is_one_line_not_a_recursion_error(
    trained_dir, good_csv, tmp_path, monkeypatch, args, expected
):
    (tmp_path / "deep.json").write_text(DEEP)
    (tmp_path / "embedrec").mkdir()
    (tmp_path / "embedrec" / "config.json").write_text(DEEP)  # the settings file
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    fill = {"{csv}": good_csv, "{file}": tmp_path / "deep.json", "{tmp}": tmp_path}
    fill.update({"{model}": trained_dir, "{deep}": DEEP})
    for key, value in fill.items():
        args = [a.replace(key, str(value)) for a in args]
    assert_refused(invoke(*args), *expected)
    assert not (tmp_path / "m").exists()


# (case id, file name, content, texts the error line must hold besides the file's name)
RATINGS_FILES = [
    ("csv-no-rating-column", "r.csv", b"item,score2\n100,4\n", ["rating"]),
    ("csv-word-rating-line-3", "r.csv", b"item,rating\n100,4\n101,x\n", ["line 3"]),
    ("csv-empty-item", "r.csv", b"item,rating\n,4\n", ["line 2"]),
    ("csv-rating-outside-scale", "r.csv", b"item,rating\n100,40\n", ["scale"]),
    ("json-a-list", "r.json", b"[1]", ["object"]),
    ("json-not-json", "r.json", b"{x", ["JSON"]),
    ("json-not-utf8", "r.json", b'{"100": 4, "\xff": 3}', ["UTF-8"]),
    ("json-rating-word", "r.json", b'{"100": "x"}', ["100"]),
    ("empty-file", "r.csv", b"", ["empty"]),
    ("no-header-three-columns", "r.csv", b"100,4,1\n101,5,1\n", ["no header", "item,rating"]),
]


@pytest.mark.parametrize(
    "name, content, expected", [c[1:] for c in RATINGS_FILES], ids=[c[0] for c in RATINGS_FILES]
)
def test_a_bad_ratings_file_for_fold_in_is_named(trained_dir, tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    error = assert_refused(invoke("recommend", trained_dir, "--ratings-file", path), *expected)
    assert name in error or "scale" in error


def test_a_headerless_ratings_file_of_two_columns_is_item_and_rating(trained_dir, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("100,5\n101,1\n")
    result = invoke("recommend", trained_dir, "--ratings-file", path, "--json")
    assert result.exit_code == 0, result.output


# (case id, command line after the model directory, texts the error line must hold)
USE = [
    ("recommend-n-0", ["recommend", "--user", "u1", "-n", "0"], ["-n"]),
    ("recommend-n-negative", ["recommend", "--user", "u1", "-n", "-5"], ["-n"]),
    ("recommend-n-word", ["recommend", "--user", "u1", "-n", "ten"], ["-n"]),
    ("recommend-unknown-user", ["recommend", "--user", "nobody"], ["nobody"]),
    ("recommend-both", ["recommend", "--user", "u1", "--ratings", '{"100": 4}'], ["--user"]),
    ("recommend-neither", ["recommend"], ["--user"]),
    ("recommend-missing-file", ["recommend", "--ratings-file", "/nonexistent.csv"], ["nonexist"]),
    ("similar-n-0", ["similar", "100", "-n", "0"], ["-n"]),
    ("similar-unknown-item", ["similar", "no such movie"], ["no such movie"]),
    ("similar-unknown-user", ["similar", "--user", "nobody"], ["nobody"]),
    ("similar-neither", ["similar"], ["ITEM"]),
    ("similar-both", ["similar", "100", "--user", "u1"], ["ITEM"]),
    ("similar-min-ratings-negative", ["similar", "100", "--min-ratings", "-1"], ["--min"]),
    ("explain-n-0", ["explain", "--n", "0"], ["--n"]),
    ("explain-map-n-0", ["explain", "--map-n", "0"], ["--map-n"]),
    ("explain-top-0", ["explain", "--top", "0"], ["--top"]),
    ("explain-n-items-0", ["explain", "--n-items", "0"], ["--n-items"]),
    ("export-format-unknown", ["export", "--out", "{tmp}/x", "--format", "xls"], ["xls"]),
    ("export-folder-named-csv", ["export", "--out", "{tmp}/f.csv"], ["f.csv", "--format csv"]),
    ("export-folder-named-parquet", ["export", "--out", "{tmp}/f.parquet"], ["folder name"]),
    ("predict-missing-pairs", ["predict", "--pairs", "{tmp}/absent.csv"], ["absent.csv"]),
    ("predict-pairs-no-item", ["predict", "--pairs", "{tmp}/pairs.csv"], ["pairs.csv", "item"]),
    ("predict-pairs-a-directory", ["predict", "--pairs", "{tmp}"], ["directory"]),
    ("evaluate-k-0", ["evaluate", "--data", "{csv}", "--ranking", "--k", "0"], ["--k"]),
    ("evaluate-k-negative", ["evaluate", "--data", "{csv}", "--k", "-3"], ["--k"]),
    ("evaluate-bad-split", ["evaluate", "--data", "{csv}", "--split", "nope"], ["nope"]),
    (
        "evaluate-threshold-nan",
        ["evaluate", "--data", "{csv}", "--ranking", "--threshold", "nan"],
        ["--threshold"],
    ),
    ("evaluate-missing-data", ["evaluate", "--data", "{tmp}/absent.csv"], ["absent.csv"]),
]


@pytest.mark.parametrize("args, expected", [c[1:] for c in USE], ids=[c[0] for c in USE])
def test_a_bad_use_of_a_model_is_one_line(trained_dir, good_csv, tmp_path, args, expected):
    (tmp_path / "pairs.csv").write_text("user,thing\nu1,100\n")
    args = [a.replace("{tmp}", str(tmp_path)).replace("{csv}", str(good_csv)) for a in args]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_refused(invoke(args[0], trained_dir, *args[1:]), *expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# (case id, command) with a model directory that is not there
ABSENT = ["recommend --user u1", "similar 100", "explain", "export --out {tmp}/x", "evaluate"]


@pytest.mark.parametrize("command", ABSENT)
def test_every_command_names_a_missing_model_directory(tmp_path, good_csv, command):
    name, *rest = command.replace("{tmp}", str(tmp_path)).split()
    data = ["--data", str(good_csv)] if name == "evaluate" else []
    result = invoke(name, tmp_path / "no-model", *rest, *data)
    assert_refused(result, "no-model")


# (case id, command line, texts the error line must hold): an output named for another format
MISNAMED = [
    ("explain-plot-txt", ["explain", "{model}", "--plot", "{tmp}/map.txt"], ["--plot", "map.txt", ".png"]),
    ("lr-find-plot-txt", ["lr-find", "--data", "{csv}", "--plot", "{tmp}/lr.txt"], ["--plot", ".png"]),
    ("synth-out-txt", ["synth", "--out", "{tmp}/s.txt"], ["s.txt", ".parquet"]),
]  # fmt: skip


@pytest.mark.parametrize("args, expected", [c[1:] for c in MISNAMED], ids=[c[0] for c in MISNAMED])
def test_an_output_named_for_another_format_is_refused(
    trained_dir, good_csv, tmp_path, args, expected
):
    fill = {"{model}": str(trained_dir), "{tmp}": str(tmp_path), "{csv}": str(good_csv)}
    for key, value in fill.items():
        args = [a.replace(key, value) for a in args]
    assert_refused(invoke(*args), *expected)
    assert list(tmp_path.iterdir()) == []


def test_lr_find_on_a_handful_of_ratings_suggests_nothing(tmp_path):
    data = tmp_path / "one.csv"
    data.write_text("user,item,rating\nu1,1,3\n")
    result = invoke("lr-find", "--data", data, "--valid-pct", "0", "--plot", tmp_path / "lr.png")
    assert_refused(result, "one.csv", "1 training ratings", "--bs")
    assert not (tmp_path / "lr.png").exists()


def test_tune_needs_one_trial_at_least(good_csv, tmp_path):
    result = invoke("tune", "--data", good_csv, "--trials", "0", "--out", tmp_path / "b.json")
    assert_refused(result, "--trials")


# ---- the same mistakes through the Python API -------------------------------------------------
@pytest.fixture(scope="module")
def api_model():
    ratings = embedrec.ratings_from_frame(low_rank_frame(n_users=20, n_items=15, seed=1))
    return embedrec.train(ratings, model="dot-bias", epochs=1)


NAN, INF = math.nan, math.inf
CONFIGS = [
    {"epochs": 0},
    {"epochs": "x"},
    {"lr": NAN},
    {"lr": -INF},
    {"wd": NAN},
    {"bs": 0},
    {"n_factors": 10**9},
    {"layers": [0]},
    {"layers": "100,50"},
    {"dropout": 1.0},
    {"seed": -1},
    {"threads": 0},
    {"schedule": "warm"},
    {"y_range": (NAN, 1.0)},
    {"y_range": (5.0, 1.0)},
    {"keep": "worst"},
    {"patience": 0},
    {"blend": -1.0},
    {"members": [{"model": "average"}]},
    {"weights": [1.0]},
    {"implicit": "maybe"},
    {"options": [1]},
]


@pytest.mark.parametrize(
    "values", CONFIGS, ids=[next(iter(c)) + "-" + str(i) for i, c in enumerate(CONFIGS)]
)
def test_a_bad_train_config_names_the_field(values):
    field = next(iter(values))
    kind = KIND_OF.get(field)
    with pytest.raises(embedrec.ModelError, match=field):
        # a kind's option (given by its earlier spelling) is checked by its kind, on resolve
        config = embedrec.TrainConfig(**values, **({"model": kind} if kind else {}))
        embedrec.models.resolve(config)


# the kind each option of one kind belongs to
KIND_OF = {
    "layers": "nn",
    "dropout": "nn",
    "implicit": "bmf",
    "members": "average",
    "weights": "average",
}


def frame(**columns) -> pd.DataFrame:
    base = {"user": ["a", "b"], "item": [1, 2], "rating": [3.0, 4.0]}
    return pd.DataFrame({**base, **columns})


FRAMES = [
    ("rating-inf", frame(rating=[3.0, INF]), "row 1"),
    ("rating-nan", frame(rating=[NAN, 3.0]), "row 0"),
    ("rating-1e39", frame(rating=[3.0, 1e39]), "row 1"),
    ("rating-words", frame(rating=["3", "x"]), "row 1"),
    ("user-none", frame(user=["a", None]), "row 1"),
    ("user-blank", frame(user=["a", " "]), "row 1"),
    ("item-nan", frame(item=[1.0, NAN]), "row 1"),
    ("user-float-past-2-53", frame(user=[2.0**63, 1.0]), "row 0"),
    ("no-rating-column", pd.DataFrame({"user": [1], "item": [2], "foo": ["x"]}), "rating"),
    ("no-rows", frame().iloc[:0], "no ratings"),
    ("rating-1e30", frame(rating=[3.0, 1e30]), "row 1"),
    ("rating-dates", frame(rating=pd.to_datetime(["2020-01-01", "2021-01-01"])), "dates"),
    ("rating-complex", frame(rating=[1 + 2j, 3 + 0j]), "complex"),
    ("rating-complex-objects", frame(rating=[1 + 2j, "3"]), "complex"),
    ("column-twice", frame().set_axis(["user", "item", "user"], axis=1), "'user' appears twice"),
]


@pytest.mark.parametrize("table, expected", [c[1:] for c in FRAMES], ids=[c[0] for c in FRAMES])
def test_a_bad_dataframe_names_the_row(table, expected):
    with pytest.raises(embedrec.DataError, match=expected):
        embedrec.ratings_from_frame(table)


@pytest.mark.parametrize("scale", [(5, 1), (NAN, 5), (1, INF), (3, 3), "15"])
def test_a_bad_declared_scale_is_refused(scale):
    with pytest.raises(embedrec.DataError, match="rating_scale"):
        embedrec.ratings_from_frame(frame(), rating_scale=scale)


CALLS = [
    ("recommend-n-0", lambda r: r.recommend("u1", n=0), "n must"),
    ("recommend-n-float", lambda r: r.recommend("u1", n=2.5), "n must"),
    ("recommend-unknown", lambda r: r.recommend("nobody"), "nobody"),
    ("fold-in-99", lambda r: r.recommend(ratings={100: 99}), "scale"),
    ("fold-in-nan", lambda r: r.recommend(ratings={100: NAN}), "100"),
    ("fold-in-word", lambda r: r.recommend(ratings={100: "x"}), "100"),
    ("fold-in-not-a-mapping", lambda r: r.recommend(ratings=[(100, 4)]), "mapping"),
    ("fold-in-unknown-item", lambda r: r.recommend(ratings={"zz": 4}), "zz"),
    ("similar-n-0", lambda r: r.similar_items(100, n=0), "n must"),
    ("similar-unknown", lambda r: r.similar_items("zz"), "zz"),
    ("predict-one-column", lambda r: r.predict([("u1",)]), "pairs"),
    ("predict-frame-no-item", lambda r: r.predict(pd.DataFrame({"user": ["u1"]})), "item"),
    ("bias-n-0", lambda r: embedrec.bias_extremes(r, 0), "n must"),
    ("split-seed-negative", lambda r: embedrec.random_split(_ratings(), 0.2, -1), "seed"),
    ("split-pct-1", lambda r: embedrec.random_split(_ratings(), 1.0), "valid_pct"),
    ("load-absent", lambda r: embedrec.load("/nonexistent/model"), "nonexistent"),
    ("train-unknown-option", lambda r: embedrec.train(_ratings(), epochz=1), "epochz"),
    ("train-threads-past-cores", lambda r: embedrec.train(_ratings(), threads=4000), "threads"),
]


def _ratings():
    return embedrec.ratings_from_frame(low_rank_frame(n_users=10, n_items=8, seed=2))


@pytest.mark.parametrize("call, expected", [c[1:] for c in CALLS], ids=[c[0] for c in CALLS])
def test_a_bad_api_call_is_our_error_naming_the_value(api_model, call, expected):
    with pytest.raises(embedrec.EmbedrecError, match=expected):
        call(api_model)


@pytest.mark.parametrize("model", ["dot", "dot-bias", "nn"])
def test_a_diverging_run_stops_with_a_hint_instead_of_a_nan_model(model):
    """Ratings up to 1.8e19 (the largest a file may hold: its square is still a float32) sum
    past float32: the loss becomes inf and the run stops naming the learning rate, on every
    SGD kind, instead of returning a NaN model."""
    frame = low_rank_frame(n_users=20, n_items=15, seed=1)
    frame["rating"] *= 3.6e18
    ratings = embedrec.ratings_from_frame(frame)
    with pytest.raises(embedrec.ModelError, match="learning rate"):
        embedrec.train(ratings, model=model, epochs=2, lr=1.0, y_range=None)


def test_ials_diverging_names_its_own_settings_not_the_learning_rate(tmp_path, good_csv):
    """ials takes no --lr or --wd: the hint names the --option value given and ials's own."""
    result = invoke(
        "train", "--data", good_csv, "--model", "ials", "--epochs", "1",
        "--option", "init_std=1e30", "--out", tmp_path / "m",
    )  # fmt: skip
    error = assert_refused(result, "diverged", "init_std=1e+30", "--option reg")
    assert "--lr" not in error.replace("has no --lr", "")
    assert not (tmp_path / "m").exists()


# ---- failures from below embedrec: one line all the same ----------------------------------------
def test_torchs_allocation_failure_is_the_out_of_memory_line():
    """torch's allocator fails with a RuntimeError, not a MemoryError: the same one line."""

    @handle_errors
    def allocate() -> None:
        torch.empty(2**45)  # 128 TiB

    result = run_command(allocate)
    assert_refused(result, "out of memory")


def test_ctrl_c_is_one_line_and_the_shells_code():
    @handle_errors
    def interrupted() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the signal arrives at the next bytecode

    assert_refused(run_command(interrupted), "interrupted", code=130)


def run_command(function):
    command = typer.Typer()
    command.command()(function)
    return CliRunner().invoke(command, [])


# ---- the real entry point, in its own process ---------------------------------------------------
ENTRY_POINT = [
    ("not-utf8-data", ["train", "--data", "{tmp}/bad.csv", "--out", "{tmp}/m"], "line 3"),
    ("lr-nan", ["train", "--data", "{csv}", "--lr", "nan", "--out", "{tmp}/m"], "--lr"),
    ("damaged-model", ["recommend", "{tmp}/model", "--user", "u1"], "ids.json"),
]


@pytest.mark.parametrize(
    "args, expected", [c[1:] for c in ENTRY_POINT], ids=[c[0] for c in ENTRY_POINT]
)
def test_the_installed_command_prints_one_line_and_no_traceback(
    model_copy, good_csv, args, expected
):
    tmp = model_copy.parent
    (tmp / "bad.csv").write_bytes(b"user,item,rating\nu1,1,3\nu\xff,2,4\n")
    (model_copy / "ids.json").write_text("{}")
    args = [a.replace("{tmp}", str(tmp)).replace("{csv}", str(good_csv)) for a in args]
    command = Path(sys.executable).with_name("embedrec")
    if not command.is_file():
        pytest.skip(f"the embedrec command is not installed beside {sys.executable}")
    done = subprocess.run([str(command), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], done.stderr
    assert not (tmp / "m").exists()


def console_script() -> list[str]:
    """The `embedrec` command as pip writes it from pyproject.toml's [project.scripts] (the
    one installed beside Python may come from an older install)."""
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    entry = re.search(r'^embedrec = "([\w.]+):(\w+)"', pyproject, re.MULTILINE)
    assert entry is not None, "no embedrec entry point in pyproject.toml"
    module, function = entry.groups()
    script = f"import sys; from {module} import {function}; sys.exit({function}())"
    return [sys.executable, "-c", script]


@pytest.mark.parametrize(
    "args, code, shown",
    [(["--help"], 0, "Usage"), (["train", "--lr", "nan", "--out", "m"], 2, "(--lr)")],
    ids=["help", "refused"],
)
def test_the_command_leaves_without_pythons_shut_down(args, code, shown):
    """A thread of a library below (pyarrow's CSV reader, gloo) that needs the interpreter
    while it shuts down aborts the process: exit 134 after the model was saved. The command
    flushes its output and leaves with its own exit code; the shut-down (here an atexit hook)
    never runs."""
    script = (
        "import atexit, sys; atexit.register(print, 'shut-down ran'); "
        "from _embedrec_command import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code, done.stderr
    assert shown in done.stdout + done.stderr
    assert "shut-down ran" not in done.stdout


@pytest.mark.parametrize("delay", [0.5, 3.0], ids=["importing", "starting"])
def test_ctrl_c_while_the_command_starts_is_one_line(tmp_path, good_csv, delay):
    """Ctrl-C half a second in lands while the command imports torch (seconds, anywhere);
    later, while it reads or trains. Either way one line and 130; a command that finished
    before the signal was sent must have finished for real (its model written)."""
    out = tmp_path / "m"
    args = ["train", "--data", good_csv, "--model", "dot-bias", "--epochs", "20", "--out", out]
    process = subprocess.Popen(
        [*console_script(), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    if process.returncode == 0:  # it ended before the signal arrived
        assert (out / "config.json").is_file(), stderr
        return
    assert process.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr and "KeyboardInterrupt" not in stderr, stderr
    assert [line for line in stderr.splitlines() if line.startswith("error")] == [
        "error: interrupted (Ctrl-C)"
    ], stderr
    assert not out.exists()


@pytest.mark.parametrize("rows, bs", [(65, 64), (9, 4), (3, 2)])
def test_nn_trains_when_the_last_batch_would_hold_one_rating(rows, bs):
    """BatchNorm cannot train on a batch of one: that last row joins the batch before it."""
    ratings = embedrec.ratings_from_frame(
        low_rank_frame(n_users=20, n_items=15, seed=1).iloc[:rows]
    )
    rec = embedrec.train(ratings, model="nn", epochs=1, bs=bs)
    assert rec.history and np.isfinite(rec.history[0].train_loss)


COMMANDS = [
    "synth",
    "lr-find",
    "tune",
    "benchmark",
    "train",
    "evaluate",
    "predict",
    "recommend",
    "similar",
    "explain",
    "export",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_every_options_default(command):
    """Every option's help ends in its default (or [required]); plain text, so no markup eats
    the brackets (rich printed `--lr  Peak LR .`)."""
    output = invoke(command, "--help").output
    assert "Traceback" not in output
    blocks = re.split(r"\n(?=\s{2}-)", output.split("Options")[-1])
    options = [
        b for b in blocks if b.strip().startswith("-") and not b.strip().startswith("--help")
    ]
    assert options, output
    missing = [b.split()[0] for b in options if "[default" not in b and "[required]" not in b]
    assert not missing, f"{command}: no default shown for {missing}"


def test_an_unknown_model_lists_every_kind_with_the_default():
    error = assert_refused(invoke("train", "--model", "nosuch", "--out", "m"))
    assert all(name in error for name in embedrec.model_names())
    assert "bmf" in error


# ---- serve: options and the port checked before the model loads -----------------------------
@pytest.fixture
def port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_serve_refuses_a_port_in_use_before_loading_the_model(tmp_path, port_in_use):
    """The model directory is not even there: the port is checked first, in one line."""
    result = invoke("serve", tmp_path / "no-model", "--port", port_in_use)
    assert_refused(result, f"127.0.0.1:{port_in_use}", "in use")


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--log-level", "loud"], ["--log-level", "loud", "warning"]),
        (["--host", "999.1.1.1"], ["999.1.1.1"]),
    ],
    ids=["log-level-unknown", "host-not-an-address"],
)
def test_a_bad_serve_option_is_one_line(trained_dir, options, expected):
    assert_refused(invoke("serve", trained_dir, *options), *expected)


@pytest.mark.parametrize(
    "given, level", [("warn", "warning"), ("WARNING", "warning"), ("Debug", "debug")]
)
def test_serve_takes_the_usual_spellings_of_a_log_level(given, level):
    assert checked_log_level(given) == level
