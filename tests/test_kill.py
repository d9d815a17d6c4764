"""A model directory survives a kill at every step of a save.

`embedrec.io` calls its fault-injection hook (`io.FAULT`) at each step of writing a model
directory. Here a forked child saves a new model over an old one and kills itself with SIGKILL
at one step; the parent then asserts that `DIR` holds a complete model (the old or the new,
by the step), that loading cleans up what the dead writer left beside it, and that the next
save works. Both ways of putting a directory in place are covered: the atomic exchange
(renameat2, Linux) and the rename-aside fallback with its recovery on the next load.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import embedrec
from embedrec import io
from tests.conftest import low_rank_frame

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # the child only writes files; Python 3.12+ warns about forking a threaded process
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

EXCHANGE_STEPS = ["staged", "written", "exchanged", "done"]
FALLBACK_STEPS = ["staged", "written", "aside", "replaced", "done"]
# steps after which the old model is what DIR holds (after an "aside" kill, recovered)
OLD_AFTER = {"staged", "written", "aside"}


@pytest.fixture(scope="module")
def models():
    ratings = embedrec.ratings_from_frame(low_rank_frame(n_users=15, n_items=12, seed=3))
    old = embedrec.train(ratings, model="dot-bias", epochs=1, seed=1)
    return old, dataclasses.replace(old, config=old.config.replace(seed=2))


def save_and_die_at(rec: embedrec.Recommender, path: Path, step: str, exchange: bool) -> None:
    """Save `rec` over `path` in a child process that SIGKILLs itself at `step`."""
    pid = os.fork()
    if pid == 0:  # the child: no pytest teardown may run here
        try:
            io.EXCHANGE = exchange

            def die(reached: str) -> None:
                if reached == step:
                    os.kill(os.getpid(), signal.SIGKILL)

            io.FAULT = die
            rec.save(path, force=True)
        finally:
            os._exit(0)  # the step was never reached: the parent sees exit code 0
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"the saving child hung at step {step}")
        time.sleep(0.01)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
        f"the child did not die at step {step!r} (status {status})"
    )


def seed_at(path: Path) -> int:
    return json.loads((path / "config.json").read_text())["train_config"]["seed"]


@pytest.mark.parametrize(
    "exchange, step",
    [(True, s) for s in EXCHANGE_STEPS] + [(False, s) for s in FALLBACK_STEPS],
    ids=[f"exchange-{s}" for s in EXCHANGE_STEPS] + [f"fallback-{s}" for s in FALLBACK_STEPS],
)
def test_a_kill_at_any_step_of_an_overwrite_leaves_a_complete_model(
    models, tmp_path, exchange, step
):
    old, new = models
    target = tmp_path / "model"
    old.save(target)
    save_and_die_at(new, target, step, exchange)
    if exchange and step == "exchanged" and seed_at(target) == 1:
        pytest.skip("renameat2 is not available on this system or file system")
    loaded = embedrec.load(target)  # recovers an aside model, cleans what the writer left
    assert loaded.config.seed == (1 if step in OLD_AFTER else 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"], "leftovers not cleaned"
    assert not loaded.recommend(old.user_map.ids[0], n=3).empty
    new.save(target, force=True)  # and the next save works
    assert seed_at(target) == 2


def test_a_kill_before_the_first_save_is_in_place_leaves_nothing_behind(models, tmp_path):
    old, _ = models
    target = tmp_path / "model"
    save_and_die_at(old, target, "written", exchange=True)
    assert not target.exists()
    with pytest.raises(embedrec.ModelError, match="no such model directory"):
        embedrec.load(target)
    assert list(tmp_path.iterdir()) == []  # the dead writer's staging directory is gone
    old.save(target)
    assert embedrec.load(target).config.seed == 1


def test_a_live_writers_staging_directory_is_left_alone(models, tmp_path):
    """Cleaning never touches a save still running in another process (its pid is alive)."""
    old, _ = models
    target = tmp_path / "model"
    old.save(target)
    busy = tmp_path / f".model{io.PARTIAL}{os.getppid()}-abcd1234"
    busy.mkdir()
    embedrec.load(target)
    assert busy.is_dir()


def test_the_fault_hook_is_off_in_normal_use():
    assert io.FAULT is None and "pytest" in sys.modules


def test_a_dead_writers_partial_file_is_cleaned_by_the_next_write(tmp_path):
    """Plain outputs (CSV, JSON, PNG) are written to `.NAME.partial-PID-…` and renamed; what a
    killed writer left is removed the next time that output is written."""
    target = tmp_path / "scores.json"
    pid = os.fork()
    if pid == 0:
        try:
            with io.atomic_file(target) as partial:
                partial.write_text("half")
                os.kill(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert [p.name.startswith(".scores.json.partial-") for p in tmp_path.iterdir()] == [True]
    io.write_json(target, {"done": True})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.json"]


def test_killing_train_while_it_replaces_a_model_leaves_a_complete_model(tmp_path, good_csv):
    """The real command, killed with SIGKILL once its new model is being staged beside the old
    one: DIR still holds a complete model, and the next load cleans up."""
    command = Path(sys.executable).with_name("embedrec")
    if not command.is_file():
        pytest.skip(f"the embedrec command is not installed beside {sys.executable}")
    target = tmp_path / "model"
    args = [str(command), "train", "--data", str(good_csv), "--model", "dot-bias"]
    subprocess.run([*args, "--epochs", "1", "--out", str(target)], check=True, capture_output=True)
    process = subprocess.Popen(
        [*args, "--epochs", "1", "--seed", "9", "--out", str(target), "--force"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if any(p.name.startswith(f".model{io.PARTIAL}") for p in tmp_path.iterdir()):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    process.wait(timeout=60)
    loaded = embedrec.load(target)  # the old model or the new, complete either way
    assert loaded.config.seed in (42, 9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
