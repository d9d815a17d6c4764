"""Hostile-input corpus, part 3: damaged model directories, output paths that must not be
written over, and evaluation of a model on the rows it was (or was not) trained on.

A damaged directory is one line naming the file and what is wrong. Damage to a checksummed file
is caught by its checksum; each such case runs again with the checksums removed (as from an
older writer or a hand edit) to prove the structural checks catch it too.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from tests.hostile import (
    assert_process_refused,
    assert_refused,
    invoke,
    invoke_bound_by_permissions,
)

WEIGHTS = "weights.safetensors"


def edit_json(name: str, change: Callable[[object], object]) -> Callable[[Path], None]:
    def damage(model: Path) -> None:
        path = model / name
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    return damage


def set_key(name: str, key: str, value: object) -> Callable[[Path], None]:
    return edit_json(name, lambda doc: {**doc, key: value})


def drop_key(name: str, key: str) -> Callable[[Path], None]:
    return edit_json(name, lambda doc: {k: v for k, v in doc.items() if k != key})


def write(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda model: (model / name).write_bytes(content)


def delete(name: str) -> Callable[[Path], None]:
    return lambda model: (model / name).unlink()


def edit_arrays(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(model: Path) -> None:
        arrays = load_file(str(model / WEIGHTS))
        change(arrays)
        save_file(arrays, str(model / WEIGHTS))

    return damage


def train_config(key: str, value: object) -> Callable[[Path], None]:
    return edit_json(
        "config.json", lambda d: {**d, "train_config": {**d["train_config"], key: value}}
    )


# config.json is not checksummed (it holds the checksums): (case id, damage, texts)
CONFIG_DAMAGE = [
    ("deleted", delete("config.json"), ["config.json is missing"]),
    ("not-json", write("config.json", b"{format"), ["config.json"]),
    ("not-utf8", write("config.json", b'{"format": "\xff"}'), ["config.json"]),
    ("a-list", write("config.json", b"[1]"), ["config.json"]),
    ("no-format", drop_key("config.json", "format"), ["config.json", "not an embedrec model"]),
    ("other-format", set_key("config.json", "format", "onnx"), ["not an embedrec model"]),
    ("newer-format", set_key("config.json", "format_version", 99), ["newer embedrec"]),
    ("format-version-word", set_key("config.json", "format_version", "x"), ["format_version"]),
    ("no-n-users", drop_key("config.json", "n_users"), ["config.json", "n_users"]),
    ("n-users-negative", set_key("config.json", "n_users", -1), ["n_users"]),
    ("n-users-word", set_key("config.json", "n_users", "x"), ["n_users"]),
    ("n-users-one-more", edit_json("config.json", lambda d: {**d, "n_users": d["n_users"] + 1}), ["ids.json", "users"]),
    ("n-items-one-less", edit_json("config.json", lambda d: {**d, "n_items": d["n_items"] - 1}), ["ids.json", "items"]),
    ("unknown-model", set_key("config.json", "model", "transformer"), ["transformer"]),
    ("model-empty", set_key("config.json", "model", ""), ["model"]),
    ("model-config-a-list", set_key("config.json", "model_config", [1]), ["model_config"]),
    ("model-config-wrong-width", set_key("config.json", "model_config", {"n_factors": 7}), [WEIGHTS]),
    ("model-config-unknown-key", set_key("config.json", "model_config", {"zz": 1}), ["zz"]),
    ("global-mean-nan", set_key("config.json", "baseline_global_mean", float("nan")), ["baseline_global_mean"]),
    ("global-mean-missing", drop_key("config.json", "baseline_global_mean"), ["baseline_global_mean"]),
    ("scale-inverted", set_key("config.json", "rating_scale", [5, 1]), ["rating_scale"]),
    ("scale-word", set_key("config.json", "rating_scale", "1-5"), ["rating_scale"]),
    ("train-config-a-list", set_key("config.json", "train_config", [1]), ["train_config"]),
    ("train-config-lr-negative", train_config("lr", -1), ["train_config", "lr"]),
    ("train-config-epochs-word", train_config("epochs", "x"), ["train_config", "epochs"]),
    ("checksums-a-list", set_key("config.json", "checksums", [1]), ["checksums"]),
    ("checksums-name-missing-file", set_key("config.json", "checksums", {"gone.bin": "x"}), ["gone.bin"]),
    ("checksum-wrong", edit_json("config.json", lambda d: {**d, "checksums": {**d["checksums"], WEIGHTS: "sha256:00"}}), [WEIGHTS, "checksum"]),
    ("blend-word", set_key("config.json", "blend", "x"), ["blend"]),
    ("ranker-unknown", set_key("config.json", "ranker", "zz"), ["zz"]),
    ("checksums-dropped", drop_key("config.json", "checksums"), ["config.json", "checksums"]),
    ("nested-100000-deep", write("config.json", b"[" * 100_000 + b"]" * 100_000), ["config.json", "nested"]),
    ("a-fifo", lambda m: (m / "config.json").unlink() or os.mkfifo(m / "config.json"), ["config.json", "not a regular file"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "damage, expected", [c[1:] for c in CONFIG_DAMAGE], ids=[c[0] for c in CONFIG_DAMAGE]
)
def test_a_damaged_config_json_is_one_line_naming_it(model_copy, damage, expected):
    damage(model_copy)
    assert_refused(invoke("recommend", model_copy, "--user", "u1"), *expected)


def shorten(name: str, by: int = 1) -> Callable[[dict], None]:
    def change(arrays: dict) -> None:
        arrays[name] = arrays[name][:-by]

    return change


def replace(name: str, value: Callable[[np.ndarray], np.ndarray]) -> Callable[[dict], None]:
    def change(arrays: dict) -> None:
        arrays[name] = value(arrays[name])

    return change


def remove(name: str) -> Callable[[dict], None]:
    return lambda arrays: arrays.pop(name)


def with_nan(values: np.ndarray) -> np.ndarray:
    values = values.copy()
    values.flat[0] = np.nan
    return values


# damage to checksummed files: (case id, damage, file named, texts when checksums are removed)
FILE_DAMAGE = [
    ("ids-deleted", delete("ids.json"), "ids.json", ["ids.json"]),
    ("ids-not-json", write("ids.json", b"{users"), "ids.json", ["ids.json"]),
    ("ids-a-list", write("ids.json", b"[]"), "ids.json", ["ids.json"]),
    ("ids-users-one-short", edit_json("ids.json", lambda d: {**d, "users": d["users"][:-1]}), "ids.json", ["ids.json", "users"]),
    ("ids-items-one-more", edit_json("ids.json", lambda d: {**d, "items": d["items"] + [999]}), "ids.json", ["ids.json", "items"]),
    ("ids-user-twice", edit_json("ids.json", lambda d: {**d, "users": d["users"][:-1] + d["users"][:1]}), "ids.json", ["repeat"]),
    ("ids-users-not-a-list", set_key("ids.json", "users", "u1"), "ids.json", ["users"]),
    ("ids-user-null", edit_json("ids.json", lambda d: {**d, "users": [None] + d["users"][1:]}), "ids.json", ["users"]),
    ("ids-user-past-int64", edit_json("ids.json", lambda d: {**d, "users": [2**64] + d["users"][1:]}), "ids.json", ["int64"]),
    ("ids-titles-short", set_key("ids.json", "titles", ["a"]), "ids.json", ["titles"]),
    ("history-not-a-list", write("history.json", b'{"a": 1}'), "history.json", ["history.json"]),
    ("history-epoch-word", write("history.json", b'[{"epoch": "x", "train_loss": 1, "valid_loss": null, "valid_rmse": null, "seconds": 1}]'), "history.json", ["epoch"]),
    ("history-no-epoch", write("history.json", b'[{"train_loss": 1}]'), "history.json", ["epoch"]),
    ("history-seconds-negative", write("history.json", b'[{"epoch": 0, "train_loss": 1, "valid_loss": null, "valid_rmse": null, "seconds": -1}]'), "history.json", ["seconds"]),
    ("history-not-json", write("history.json", b"[{"), "history.json", ["history.json"]),
    ("weights-deleted", delete(WEIGHTS), WEIGHTS, [WEIGHTS]),
    ("weights-garbage", write(WEIGHTS, b"garbage"), WEIGHTS, [WEIGHTS]),
    ("weights-empty", write(WEIGHTS, b""), WEIGHTS, [WEIGHTS]),
    ("weights-truncated", lambda m: (m / WEIGHTS).write_bytes((m / WEIGHTS).read_bytes()[:500]), WEIGHTS, [WEIGHTS]),
    ("tensor-missing", edit_arrays(remove("model.item_bias.weight")), WEIGHTS, [WEIGHTS]),
    ("counts-missing", edit_arrays(remove("counts.users")), WEIGHTS, ["counts.users"]),
    ("counts-short", edit_arrays(shorten("counts.users", 3)), WEIGHTS, ["counts.users"]),
    ("counts-negative", edit_arrays(replace("counts.items", lambda v: -v)), WEIGHTS, ["counts.items"]),
    ("offsets-short", edit_arrays(shorten("baseline.item_offsets")), WEIGHTS, ["baseline.item_offsets"]),
    ("offsets-nan", edit_arrays(replace("baseline.user_offsets", with_nan)), WEIGHTS, ["baseline.user_offsets"]),
    ("factors-nan", edit_arrays(replace("model.user_factors.weight", with_nan)), WEIGHTS, ["model.user_factors.weight"]),
    ("factors-narrow", edit_arrays(replace("model.user_factors.weight", lambda v: v[:, :3].copy())), WEIGHTS, [WEIGHTS]),
    ("factors-short", edit_arrays(shorten("model.item_factors.weight")), WEIGHTS, [WEIGHTS]),
    ("seen-indptr-short", edit_arrays(shorten("seen.indptr")), WEIGHTS, ["seen"]),
    ("seen-items-past-catalogue", edit_arrays(replace("seen.items", lambda v: v + 1000)), WEIGHTS, ["seen"]),
    ("seen-items-missing", edit_arrays(remove("seen.items")), WEIGHTS, ["seen"]),
]  # fmt: skip


@pytest.mark.parametrize("checksums", [True, False], ids=["checksummed", "no-checksums"])
@pytest.mark.parametrize(
    "damage, named, expected", [c[1:] for c in FILE_DAMAGE], ids=[c[0] for c in FILE_DAMAGE]
)
def test_a_damaged_model_file_is_one_line_naming_it(model_copy, checksums, damage, named, expected):
    if not checksums:  # as an older writer left it: format 2 recorded no checksums
        edit_json("config.json", lambda d: {**d, "format_version": 2, "checksums": None})(
            model_copy
        )
    damage(model_copy)
    error = assert_refused(invoke("recommend", model_copy, "--user", "u1"))
    assert all(text in error for text in ([named] if checksums else expected)), error


@pytest.mark.parametrize(
    "damage",
    [set_key("config.json", "written_by_a_newer_version", 1), train_config("future_option", 2)],
    ids=["unknown-config-key", "unknown-train-config-key"],
)
def test_keys_from_a_newer_writer_load_with_a_warning(model_copy, damage):
    damage(model_copy)
    result = invoke("recommend", model_copy, "--user", "u1", "--json")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "config.json" in warnings[0] and "Traceback" not in result.output


def test_ids_reordered_with_their_checksum_recomputed_are_refused(model_copy):
    """The weights record the sum of ids.json: reordering the ids and recomputing the sum in
    config.json still does not pair them with the rows they were trained with."""
    ids = json.loads((model_copy / "ids.json").read_text())
    (model_copy / "ids.json").write_text(json.dumps({**ids, "users": ids["users"][::-1]}))
    config = json.loads((model_copy / "config.json").read_text())
    digest = "sha256:" + hashlib.sha256((model_copy / "ids.json").read_bytes()).hexdigest()
    config["checksums"]["ids.json"] = digest
    (model_copy / "config.json").write_text(json.dumps(config))
    assert_refused(invoke("recommend", model_copy, "--user", "u1"), "ids.json", "weights")


def test_an_unreadable_model_file_is_named(model_copy, tmp_path):
    (model_copy / WEIGHTS).chmod(0)
    done = invoke_bound_by_permissions(tmp_path, "recommend", model_copy, "--user", "u1")
    assert_process_refused(done, WEIGHTS, "cannot be read")


def test_a_model_folder_ignores_files_it_did_not_write(model_copy):
    """A user's notes, a `scores.json` from `predict --out`, a folder named like a document
    and a FIFO: the model loads (a FIFO is never opened, so nothing hangs)."""
    (model_copy / "NOTES.md").write_text("trained on the March data\n")
    (model_copy / "scores.json").write_text("[1, 2]")
    (model_copy / "backup.json").mkdir()
    os.mkfifo(model_copy / "pipe.json")
    result = invoke("recommend", model_copy, "--user", "u1", "--json")
    assert result.exit_code == 0, result.output


def test_train_force_never_deletes_a_users_file_in_the_model_folder(model_copy, good_csv):
    (model_copy / "NOTES.md").write_text("mine\n")
    before = snapshot(model_copy)
    result = invoke(
        "train", "--data", good_csv, "--model", "dot-bias", "--epochs", "1", "--out", model_copy,
        "--force",
    )  # fmt: skip
    assert_refused(result, "NOTES.md", "did not write")
    assert snapshot(model_copy) == before and "epoch" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "--pairs", "{pairs}", "--out", "{model}/ids.json", "--force"],
        ["predict", "--pairs", "{pairs}", "--out", "{model}/scores.csv"],
        ["export", "--out", "{model}/export.csv"],
        ["explain", "--plot", "{model}/map.png"],
    ],
    ids=["predict-over-ids-json", "predict-new-file", "export", "explain-plot"],
)
def test_nothing_is_written_into_a_model_folder(model_copy, tmp_path, args):
    (tmp_path / "pairs.csv").write_text("user,item\nu1,100\n")
    args = [
        a.replace("{model}", str(model_copy)).replace("{pairs}", str(tmp_path / "pairs.csv"))
        for a in args
    ]
    before = snapshot(model_copy)
    assert_refused(invoke(args[0], model_copy, *args[1:]), "inside the model directory")
    assert snapshot(model_copy) == before


# ---- output paths: nothing a user wrote is replaced ------------------------------------------
def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "config.json").write_text('{"name": "my project"}')
    (folder / "src" / "main.py").write_text("print('mine')\n")
    return folder


# (case id, how to make the output path, options, texts the error must hold)
OUTPUTS = [
    ("project-folder-force", project, ["--force"], ["not an embedrec model directory"]),
    ("project-folder", project, [], ["already exists"]),
    ("empty-folder-force", lambda t: (t / "e").mkdir() or t / "e", ["--force"], ["not an embedrec"]),
    ("a-file-force", lambda t: (t / "f").write_text("mine") and t / "f", ["--force"], ["not an embedrec"]),
    ("a-file", lambda t: (t / "f").write_text("mine") and t / "f", [], ["already exists"]),
    ("under-a-file", lambda t: (t / "f").write_text("mine") and t / "f" / "model", [], ["is a file"]),
    ("link-to-project-force", lambda t: os.symlink(project(t), t / "l") or t / "l", ["--force"], ["not an embedrec"]),
    ("model-without-force", lambda t: t / "model", [], ["already exists"]),
    ("in-proc", lambda t: Path("/proc/embedrec-model"), [], ["cannot write"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "make, options, expected", [c[1:] for c in OUTPUTS], ids=[c[0] for c in OUTPUTS]
)
def test_train_never_writes_over_what_is_not_its_model(
    tmp_path, trained_dir, good_csv, make, options, expected
):
    (tmp_path / "model").mkdir()
    for file in trained_dir.iterdir():
        (tmp_path / "model" / file.name).write_bytes(file.read_bytes())
    out = make(tmp_path)
    before = snapshot(tmp_path)
    result = invoke(
        "train", "--data", good_csv, "--model", "dot-bias", "--epochs", "1", "--out", out, *options
    )
    assert_refused(result, *expected)
    assert snapshot(tmp_path) == before
    assert "epoch" not in result.output  # refused before any training


# fmt: skip


USE_OUTPUTS = [
    ("predict-out-exists", ["predict", "--pairs", "{pairs}", "--out", "{mine}"], ["already exists"]),
    ("predict-out-dir-force", ["predict", "--pairs", "{pairs}", "--out", "{dir}", "--force"], ["directory"]),
    ("predict-out-under-file", ["predict", "--pairs", "{pairs}", "--out", "{mine}/x.csv"], ["is a file"]),
    ("export-out-exists", ["export", "--out", "{mine}"], ["already exists"]),
    ("export-out-dir-force", ["export", "--out", "{dir}", "--force"], ["directory"]),
    ("explain-plot-exists", ["explain", "--plot", "{mine}"], ["already exists"]),
    ("explain-plot-under-file", ["explain", "--plot", "{mine}/map.png"], ["is a file"]),
    ("explain-plot-in-proc", ["explain", "--plot", "/proc/embedrec.png"], ["cannot write"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "args, expected", [c[1:] for c in USE_OUTPUTS], ids=[c[0] for c in USE_OUTPUTS]
)
def test_commands_using_a_model_never_write_over_a_users_files(
    tmp_path, trained_dir, args, expected
):
    (tmp_path / "mine").write_text("mine")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "keep.txt").write_text("keep")
    (tmp_path / "pairs.csv").write_text("user,item\nu1,100\n")
    fill = {
        "{pairs}": tmp_path / "pairs.csv",
        "{mine}": tmp_path / "mine",
        "{dir}": tmp_path / "dir",
    }
    for key, value in fill.items():
        args = [a.replace(key, str(value)) for a in args]
    before = snapshot(tmp_path)
    assert_refused(invoke(args[0], trained_dir, *args[1:]), *expected)
    assert snapshot(tmp_path) == before


def test_synth_and_tune_never_write_over_a_file(tmp_path, good_csv):
    mine = tmp_path / "mine.csv"
    mine.write_text("mine")
    assert_refused(invoke("synth", "--out", mine), "already exists")
    assert_refused(
        invoke("tune", "--data", good_csv, "--trials", "1", "--out", mine), "already exists"
    )
    assert mine.read_text() == "mine"


def test_force_replaces_a_model_with_a_complete_one(tmp_path, trained_dir, good_csv):
    out = tmp_path / "model"
    args = ["train", "--data", good_csv, "--model", "dot-bias", "--epochs", "1", "--out", out]
    assert invoke(*args).exit_code == 0
    result = invoke(*args, "--force", "--seed", "7")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["train_config"]["seed"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no leftovers
    assert invoke("recommend", out, "--user", "u1").exit_code == 0


# ---- evaluate scores what it says --------------------------------------------------------------
def evaluate(model: Path, *options: object) -> tuple[dict, str]:
    result = invoke("evaluate", model, "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.output


def test_evaluate_scores_the_split_the_model_was_trained_with(trained_dir, good_csv):
    trained = json.loads((trained_dir / "config.json").read_text())["split"]
    metrics, output = evaluate(trained_dir, "--data", good_csv)
    assert metrics["split"] == trained["name"] and metrics["n_trained_on"] == 0
    assert "recorded" in output


def test_evaluate_warns_when_the_test_rows_were_training_rows(trained_dir, good_csv):
    metrics, output = evaluate(trained_dir, "--data", good_csv, "--seed", "7")
    assert metrics["n_trained_on"] > 0
    assert "trained on" in output and "optimistic" in output
    same, quiet = evaluate(trained_dir, "--data", good_csv, "--seed", "42")
    assert same["n_trained_on"] == 0 and "optimistic" not in quiet


def test_evaluate_on_other_data_does_not_borrow_the_recorded_split(trained_dir, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text(
        "user,item,rating\n" + "".join(f"u{k},{100 + k % 7},{1 + k % 5}\n" for k in range(40))
    )
    metrics, output = evaluate(trained_dir, "--data", other)
    assert "recorded" not in output and metrics["split"].startswith("random:0.2:42")


def a_test_file(tmp_path: Path, good_csv: Path, rows: int, change) -> Path:
    """The first `rows` ratings of the training file, changed as a test file might be."""
    lines = good_csv.read_text().splitlines()
    path = tmp_path / "test.csv"
    path.write_text("\n".join([lines[0], *change(lines[1 : rows + 1])]) + "\n")
    return path


def rescaled(lines: list[str], factor: float) -> list[str]:
    def one(line: str) -> str:
        user, item, rating, *rest = line.split(",")
        return ",".join([user, item, f"{float(rating) * factor:g}", *rest])

    return [one(line) for line in lines]


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda lines: [*lines[:-1], ",".join([*lines[-1].split(",")[:2], "99", "1"])], "99"),
        (lambda lines: rescaled(lines, 2.0), "outside the model's rating scale 1..5"),
    ],
    ids=["one-99", "zero-to-ten-against-one-to-five"],
)
def test_evaluate_refuses_test_ratings_off_the_models_scale(
    trained_dir, good_csv, tmp_path, change, expected
):
    path = a_test_file(tmp_path, good_csv, 30, change)
    assert_refused(invoke("evaluate", trained_dir, "--test", path), "test.csv", expected)


def test_evaluate_says_which_duplicate_test_rows_it_cut(trained_dir, good_csv, tmp_path):
    path = a_test_file(tmp_path, good_csv, 10, lambda lines: [*lines, *lines[:3]])
    metrics, output = evaluate(trained_dir, "--test", path)
    assert metrics["n"] == 10
    assert "3 duplicate (user, item) rows" in output and "test.csv line 2" in output


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda t: (t / "f").write_text("mine") and t / "f", "not a directory"),
        (lambda t: Path("/dev/null"), "not a directory"),
        (lambda t: os.mkfifo(t / "fifo") or t / "fifo", "not a directory"),
        (lambda t: os.symlink(t / "loop", t / "loop") or t / "loop", "no such model directory"),
    ],
    ids=["a-file", "dev-null", "a-fifo", "a-symlink-loop"],
)
def test_what_is_not_a_model_directory_is_named_for_what_it_is(tmp_path, make, expected):
    path = make(tmp_path)
    assert_refused(invoke("recommend", path, "--user", "u1"), str(path), expected)


def test_evaluate_test_rows_with_text_ids_beside_integer_ids(trained_dir, tmp_path):
    """The model's items are integers (100..): a text id is an item it never saw, scored by
    the baseline and counted apart, never a TypeError from sorting mixed ids."""
    path = tmp_path / "mixed.csv"
    path.write_text("user,item,rating\nu1,abc,3\nu2,100,4\n")
    metrics, _ = evaluate(trained_dir, "--test", path)
    assert metrics["n"] == 2 and metrics["n_unknown"] == 1


def test_evaluate_refuses_test_rows_the_model_knows_none_of(trained_dir, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("user,item,rating\nzz,abc,3\nyy,def,4\n")
    assert_refused(invoke("evaluate", trained_dir, "--test", path), "other.csv", "none of its")
