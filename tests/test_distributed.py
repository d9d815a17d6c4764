"""Distributed training as a user runs it: `python -m torch.distributed.run` (torchrun) starting
`embedrec train` in 2 CPU processes on gloo, each on its shard, against one process with the
same settings; a rank killed mid-run; options a distributed run refuses; Parquet shards."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from torch.distributed.elastic.multiprocessing.errors import ProcessFailure
from typer.testing import CliRunner

import embedrec
from embedrec.cli import app
from embedrec.data.shards import ParquetRows, joined, shard_range, union_maps
from embedrec.data.splits import random_valid_rows
from embedrec.training.gradients import SPARSE_ROWS_X_WIDTH
from embedrec.training.launch import failed_rank, model_stamp, saved_since
from tests.conftest import low_rank_frame

SRC = Path(__file__).resolve().parents[1] / "src"
# the chapter's dot-bias, at a batch that keeps 2 processes on 2 busy cores well under a minute
CHAPTER = ["--model", "dot-bias", "--epochs", "3", "--bs", "256", "--lr", "1e-2"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun_command(*args: str, nproc: int = 2) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
        "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}",
        "-m", "embedrec", "train", *args,
    ]  # fmt: skip


def environment() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def nproc_command(*args: str, nproc: int = 2) -> list[str]:
    """The same run started by `embedrec train --nproc N` (torch's launcher in-process)."""
    return [sys.executable, "-m", "embedrec", "train", *args, "--nproc", str(nproc)]


def torchrun(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        torchrun_command(*args), env=environment(), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def one_json(stdout: str) -> dict:
    """The one JSON object rank 0 prints (the other ranks print nothing on stdout)."""
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, stdout
    return json.loads(lines[0])


@pytest.mark.slow
def test_two_processes_match_one_and_save_a_model_that_recommends(ml100k_dir, tmp_path):
    out = tmp_path / "two"
    two = torchrun("--data", str(ml100k_dir), *CHAPTER, "--out", str(out), "--json")
    assert two.returncode == 0, two.stderr[-3000:]
    distributed = one_json(two.stdout)
    split = embedrec.load_split(ml100k_dir, valid_pct=0.2, seed=42)
    rec = embedrec.train(split, model="dot-bias", epochs=3, bs=256, lr=1e-2, engine="torch")
    single = embedrec.evaluate(rec, split.valid)["rmse"]
    assert abs(distributed["valid_rmse"] - single) < 0.01, (distributed["valid_rmse"], single)
    assert distributed["n_train"] == 80_000 and distributed["n_valid"] == 20_000
    saved = embedrec.load(out)
    assert saved.engine == "torch" and saved.user_map == rec.user_map
    assert embedrec.evaluate(saved, split.valid)["rmse"] == pytest.approx(distributed["valid_rmse"])
    assert len(saved.recommend(196, n=5)) == 5


def rank_pid(launcher: subprocess.Popen, rank: int) -> int | None:
    """The pid of the worker of `rank` under a torchrun process (its RANK variable)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            variables = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == launcher.pid and f"RANK={rank}".encode() in variables:
            return int(entry.name)
    return None


def running(pid: int) -> bool:
    """Whether process `pid` is alive (not gone, not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def training_for_long(launch, tmp_path: Path) -> tuple[subprocess.Popen, Path, dict]:
    """A run replacing a model at tmp_path/model (returned with its files' bytes), started by
    `launch` and under way: rank 0 has shown an epoch."""
    data = tmp_path / "ratings.csv"
    low_rank_frame(n_users=60, n_items=40, seed=2).to_csv(data, index=False)
    out = tmp_path / "model"
    old = CliRunner().invoke(
        app, ["train", "--data", str(data), "--epochs", "1", "--out", str(out)]
    )
    assert old.exit_code == 0, old.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    args = ("--data", str(data), "--model", "dot-bias", "--epochs", "2000", "--bs", "8")
    launcher = subprocess.Popen(
        launch(*args, "--out", str(out), "--force"), env=environment(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert launcher.stderr is not None
    for line in launcher.stderr:  # rank 0 shows an epoch: training is under way
        if line.split()[:1] == ["0"]:
            break
    return launcher, out, before


def assert_old_model_untouched(tmp_path: Path, out: Path, before: dict) -> None:
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name not in ("ratings.csv", "model")]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the rank's process in /proc")
@pytest.mark.parametrize(
    ("launch", "victim"),
    [(torchrun_command, "rank 1"), (nproc_command, "rank 1"), (nproc_command, "launcher")],
    ids=["torchrun", "nproc", "nproc-stopped"],
)
def test_a_killed_rank_fails_the_run_and_leaves_the_old_model(launch, victim, tmp_path):
    """Either launcher: the ranks' `error:` lines, no model written. `--nproc` says which rank
    died (or that it was stopped itself, as by Ctrl-C or a kill), with no launcher traceback or
    log line after it, and exits 2 like any failed command."""
    launcher, out, before = training_for_long(launch, tmp_path)
    try:
        if victim == "launcher":
            launcher.send_signal(signal.SIGTERM)
        else:
            pid = rank_pid(launcher, 1)
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
        _, stderr = launcher.communicate(timeout=60)
    finally:
        launcher.kill()
    assert launcher.returncode != 0
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert errors and all("no model was written" in line for line in errors), stderr[-3000:]
    if launch is nproc_command:
        assert launcher.returncode == 2
        said = {
            "rank 1": "error: process of rank 1 (of 2) was killed by SIGKILL",
            "launcher": "error: stopped by SIGTERM: the 2 processes were stopped",
        }[victim]
        # the surviving rank may abort (SIGABRT) on its peer's dropped connection: the rank
        # killed from outside is still the one named, the survivor's C++ "terminate called"
        # line the only one allowed beside the error lines
        assert said in stderr, stderr[-3000:]
        assert "Traceback" not in stderr, stderr[-3000:]
        aborted = "terminate called" in stderr
        assert aborted or all(line.startswith(("error: ", "0 ", "  ")) or not line.strip()
                              for line in stderr.splitlines()[-3:]), stderr[-3000:]  # fmt: skip
        assert len(errors) <= 2, stderr[-3000:]  # the launcher's, and rank 0's lost contact
    assert_old_model_untouched(tmp_path, out, before)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the rank's process in /proc")
def test_the_ranks_die_with_a_launcher_killed_outright(tmp_path):
    """kill -9 of `train --nproc` gives it no chance to stop its ranks (torch's launcher
    starts them in sessions of their own): they stop on their own, and the old model stays."""
    launcher, out, before = training_for_long(nproc_command, tmp_path)
    ranks = [rank_pid(launcher, rank) for rank in (0, 1)]
    outlived = []
    try:
        assert None not in ranks
        launcher.send_signal(signal.SIGKILL)
        try:
            launcher.communicate(timeout=60)  # the ranks hold its stderr open until they end
        except subprocess.TimeoutExpired:
            outlived = [pid for pid in ranks if pid is not None and running(pid)]
    finally:
        for pid in ranks:  # this test's own processes, should they have outlived it
            if pid is not None and running(pid):
                os.kill(pid, signal.SIGKILL)
        launcher.kill()
    assert not outlived, f"rank processes {outlived} outlived their launcher"
    assert_old_model_untouched(tmp_path, out, before)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "dot-bias", "--bs", "63"], "--bs 63 is the batch of all 2 processes"),
        ([], "a distributed run trains one named model"),
        (["--patience", "2"], "--patience"),
        (["--split", "temporal:5"], "--split temporal:5: a distributed run splits at random"),
        (["--valid", "ratings.csv"], "--valid: a distributed run takes --valid-pct only"),
        (["--feedback", "sqlite:///f.db"], "--feedback: a distributed run takes --valid-pct"),
        (["--model", "bmf"], "a distributed run trains with the torch engine"),
        (["--model", "dot-bias", "--engine", "fused"], "engine 'fused' (--engine)"),
        (["--split", "random:abc"], "split 'random:abc' (--split)"),
        (["--nproc", "2"], "--nproc: this process is one of a torchrun run already"),
    ],
)
def test_what_a_distributed_run_refuses_is_one_line_and_exit_2(
    args, message, tmp_path, monkeypatch
):
    """torchrun's variables set as it sets them: each rank refuses before the ranks meet."""
    data = tmp_path / "ratings.csv"
    low_rank_frame().to_csv(data, index=False)
    monkeypatch.chdir(tmp_path)
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", "m", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


@pytest.fixture
def parquet_dir(tmp_path) -> tuple[Path, Path]:
    """The same ratings as one Parquet file and as a directory of three, in row groups of 50."""
    table = pa.Table.from_pandas(low_rank_frame(n_users=50, n_items=40, seed=5))
    one, folder = tmp_path / "one.parquet", tmp_path / "parts"
    pq.write_table(table, one, row_group_size=50)
    folder.mkdir()
    cuts = [0, 300, 700, table.num_rows]
    for k in range(3):
        pq.write_table(table.slice(cuts[k], cuts[k + 1] - cuts[k]), folder / f"part-{k}.parquet",
                       row_group_size=50)  # fmt: skip
    return one, folder


def test_parquet_shards_hold_equal_training_shares_and_join_to_the_one_process_table(parquet_dir):
    one, folder = parquet_dir
    rows = ParquetRows.open(folder)
    is_valid = random_valid_rows(rows.num_rows, 0.2, 42)
    ranges = [shard_range(is_valid, rank, 3) for rank in range(3)]
    assert [r[0] for r in ranges][1:] == [r[1] for r in ranges][:-1] and ranges[-1][1] == len(
        is_valid
    )
    shares = [int((~is_valid[lo:hi]).sum()) for lo, hi in ranges]
    assert max(shares) - min(shares) <= 1
    parts = [embedrec.ratings_from_frame(rows.read(lo, hi)) for lo, hi in ranges]
    users, items = union_maps([(p.user_map.ids, p.item_map.ids) for p in parts])
    whole = joined(parts, users, items, str(folder))
    single = embedrec.read_ratings(one)
    assert whole.user_map == single.user_map and whole.item_map == single.item_map
    assert np.array_equal(whole.users, single.users) and np.array_equal(
        whole.ratings, single.ratings
    )


def test_duplicate_pairs_across_parquet_shards_are_refused(tmp_path):
    frame = low_rank_frame(n_users=20, n_items=10, seed=1)
    folder = tmp_path / "parts"
    folder.mkdir()
    for k in range(2):
        pq.write_table(pa.Table.from_pandas(frame), folder / f"part-{k}.parquet")
    rows = ParquetRows.open(folder)
    half = rows.num_rows // 2
    parts = [
        embedrec.ratings_from_frame(rows.read(lo, hi)) for lo, hi in ((0, half), (half, 2 * half))
    ]
    users, items = union_maps([(p.user_map.ids, p.item_map.ids) for p in parts])
    with pytest.raises(embedrec.DataError, match="duplicate .user, item. rows: a distributed run"):
        joined(parts, users, items, str(folder))


def test_a_parquet_directory_with_sparse_tables_trains_on_two_processes(tmp_path):
    """Tables past SPARSE_ROWS_X_WIDTH take sparse gradients, all-reduced by gloo."""
    n = 4_000  # 3,000 users x 4,000 items at 320 factors: 2.2M embedding weights
    rows = np.arange(n)
    frame = {"user": rows % 3_000, "item": rows * 7 % 9_000, "rating": rows % 5 + 1.0}
    table = pa.table(frame)
    folder = tmp_path / "parts"
    folder.mkdir()
    for k in range(2):
        pq.write_table(
            table.slice(k * n // 2, n // 2), folder / f"part-{k}.parquet", row_group_size=500
        )
    out = tmp_path / "model"
    names = tmp_path / "items.csv"  # rank 0's model names the items from it
    names.write_text("item,title\n" + "".join(f"{i},Item {i}\n" for i in range(9_000)))
    args = ("--data", str(folder), "--model", "dot-bias", "--n-factors", "320", "--epochs", "1")
    run = torchrun(*args, "--item-table", str(names), "--out", str(out), "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    assert one_json(run.stdout)["n_train"] == 3_200
    saved = embedrec.load(out)
    assert (saved.model.n_users + saved.model.n_items) * 320 > SPARSE_ROWS_X_WIDTH  # the premise
    assert len(saved.recommend(0, n=5)) == 5
    assert saved.titles is not None
    assert saved.titles.tolist() == [f"Item {i}" for i in saved.item_map.ids.tolist()]


@pytest.fixture(scope="module")
def nproc_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """(the run, its data, its model) of one `embedrec train --nproc 2 --valid-pct 0.25` on a
    small CSV, read by two tests: three processes that each import torch are the costly part."""
    folder = tmp_path_factory.mktemp("nproc")
    data = folder / "ratings.csv"
    frame = low_rank_frame(n_users=80, n_items=50, seed=3)
    frame.to_csv(data, index=False)
    items = sorted(set(frame["item"]))
    names = folder / "items.tsv"  # passed on to the ranks as --item-table
    names.write_text("id\tname\n" + "".join(f"{i}\tItem {i}\n" for i in items))
    out = folder / "model"
    args = ("--data", str(data), "--model", "dot-bias", "--epochs", "2", "--bs", "64")
    args += ("--item-table", str(names))
    run = subprocess.run(
        nproc_command(*args, "--valid-pct", "0.25", "--out", str(out), "--json"),
        env=environment(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return run, data, out


def test_nproc_trains_in_processes_and_saves_a_model_that_recommends(nproc_run):
    """`embedrec train --nproc 2` runs the distributed path without a torchrun command."""
    run, data, out = nproc_run
    result = one_json(run.stdout)
    assert result["n_train"] + result["n_valid"] == len(embedrec.load_ratings(data))
    saved = embedrec.load(out)
    assert saved.engine == "torch"
    user = saved.user_map.decode([0])[0]
    assert len(saved.recommend(user, n=3)) == 3
    assert saved.recommend(user, n=3)["title"].tolist() == [
        f"Item {i}" for i in saved.recommend(user, n=3)["item"]
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nproc", "2", "--patience", "2"], "--patience"),
        (["--nproc", "2", "--bs", "63"], "--bs 63 is the batch of all 2 processes together"),
        (["--nproc", "2", "--split", "temporal:5"], "a distributed run splits at random only"),
        (["--nproc", "0"], "--nproc"),
        (["--nproc", "2", "--device", "mps"], "device 'mps'"),
    ],
)
def test_what_nproc_refuses_is_said_once_before_any_process_starts(args, message, tmp_path):
    data = tmp_path / "ratings.csv"
    low_rank_frame(n_users=20, n_items=10, seed=1).to_csv(data, index=False)
    out = tmp_path / "m"
    result = CliRunner().invoke(
        app, ["train", "--data", str(data), "--model", "dot-bias", "--out", str(out), *args]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("user,item,rating\n1,2,3\n", "1 training row cannot be shared by 2 processes"),
        ("user,item,rating\n1,2,3\n2,3,x\n3,4,5\n", "ratings.csv line 3"),
    ],
    ids=["one-row", "bad-line"],
)
def test_an_error_every_rank_meets_is_said_once_naming_nproc(rows, message, tmp_path):
    """Every rank reads the file and fails alike: one `error:` line, not one per rank and a
    launcher's line after them; too few rows for the ranks names embedrec's --nproc."""
    data = tmp_path / "ratings.csv"
    data.write_text(rows)
    run = subprocess.run(
        nproc_command("--data", str(data), "--model", "dot-bias", "--out", str(tmp_path / "m")),
        env=environment(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and message in errors[0], run.stderr[-3000:]
    assert "--nproc" in errors[0] or "line 3" in errors[0]
    assert "Traceback" not in run.stderr and not (tmp_path / "m").exists()


def test_a_model_saved_before_a_rank_died_is_told_from_one_that_was_not(tmp_path):
    """What `--nproc` checks when a rank dies (at shutdown, after rank 0 saved): a new model
    whose every file matches its checksum is saved; the old model or a damaged one is not."""
    ratings = embedrec.ratings_from_frame(low_rank_frame(n_users=20, n_items=10, seed=1))
    out = tmp_path / "model"
    embedrec.train(ratings, model="dot-bias", epochs=1).save(out)
    stamp = model_stamp(out)
    assert stamp is not None and not saved_since(out, stamp)  # the old model: nothing new
    embedrec.train(ratings, model="dot-bias", epochs=1).save(out, force=True)  # rank 0's save
    assert saved_since(out, stamp)
    (out / "ids.json").write_text("{}")
    assert not saved_since(out, stamp)
    assert not saved_since(tmp_path / "absent", None)


def test_the_rank_killed_from_outside_is_named_before_the_one_that_aborted_after_it():
    """A rank SIGKILLed mid-run makes its peer abort (SIGABRT, torch's C++ side, at the same
    poll of the launcher): the killed one is the cause; ranks that said why (exit 2) are not."""
    killed, aborted = -signal.SIGKILL, -signal.SIGABRT
    failures = {0: ProcessFailure(0, 101, aborted, ""), 1: ProcessFailure(1, 102, killed, "")}
    failures[1].timestamp = failures[0].timestamp  # seen at the same poll
    cause = failed_rank(failures)
    assert cause is not None and cause[0] == 1
    assert failed_rank({0: ProcessFailure(0, 101, 2, ""), 1: ProcessFailure(1, 102, 2, "")}) is None


def test_train_with_nproc_from_python_is_the_cli_run(nproc_run, tmp_path, monkeypatch):
    """`embedrec.train(path, nproc=2, out=...)` runs what `embedrec train --nproc 2` runs: the
    same split recorded, the same epochs, the same weights; and returns the saved model."""
    monkeypatch.setenv("PYTHONPATH", environment()["PYTHONPATH"])  # the ranks import embedrec
    _, data, by_cli = nproc_run  # trained with --valid-pct 0.25
    rec = embedrec.train(
        data, model="dot-bias", epochs=2, bs=64, nproc=2, valid_pct=0.25, out=tmp_path / "py"
    )
    cli = embedrec.load(by_cli)
    assert rec.split == cli.split
    assert rec.split["spec"] == "random:0.25:42"
    assert [e.valid_rmse for e in rec.history] == [e.valid_rmse for e in cli.history]
    pairs = np.array([0, 1, 2]), np.array([0, 1, 2])
    assert np.allclose(rec.predict_indices(*pairs), cli.predict_indices(*pairs))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda split, out: embedrec.train(split, nproc=2, out=out), embedrec.DistributedError,
         "not a Split in memory"),
        (lambda split, out: embedrec.train("r.csv", model="dot-bias", nproc=2),
         embedrec.DistributedError, "give out="),
        (lambda split, out: embedrec.train("r.csv", model="dot-bias", nproc=2, out=out,
                                           split="temporal:5"),
         embedrec.DistributedError, "splits at random only"),
        (lambda split, out: embedrec.train("r.csv", model="dot-bias", nproc=2, out=out,
                                           patience=2),
         embedrec.ModelError, "--patience"),
        (lambda split, out: embedrec.train("r.csv", model="dot-bias"), embedrec.DataError,
         "takes a Split or Ratings"),
        (lambda split, out: embedrec.train(split, layout={"sep": ","}), embedrec.DataError,
         "nproc=2 or more"),
    ],
    ids=["in-memory", "no-out", "temporal", "patience", "path-one-process", "layout-one-process"],
)  # fmt: skip
def test_what_train_with_nproc_refuses_is_said_before_any_process_starts(
    call, error, message, tmp_path
):
    split = embedrec.random_split(embedrec.ratings_from_frame(low_rank_frame(20, 10, seed=1)))
    with pytest.raises(error, match=message):
        call(split, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_train_with_nproc_keeps_a_model_already_there_unless_forced(tmp_path):
    """The folder is checked before any process starts, not by rank 0 after the data is read."""
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    with pytest.raises(embedrec.EmbedrecError, match="already exists"):
        embedrec.train("r.csv", model="dot-bias", nproc=2, out=tmp_path / "m")
    assert (tmp_path / "m" / "config.json").read_text() == "{}"


def test_an_item_table_in_memory_is_refused_before_processes_start(tmp_path):
    data = tmp_path / "ratings.csv"
    data.write_text("user,item,rating\n1,2,3\n2,2,4\n")
    items = pd.DataFrame({"item": [2], "title": ["Two"]})
    with pytest.raises(embedrec.DistributedError, match=r"item_table=.*a file's path"):
        embedrec.train(
            data, model="dot-bias", nproc=2, out=tmp_path / "m", layout={"item_table": items}
        )
    assert not (tmp_path / "m").exists()
