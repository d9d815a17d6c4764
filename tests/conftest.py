"""Shared fixtures: the real MovieLens 100k from ../shared (skipped with a reason when absent)
and small synthetic ratings built in code."""

from __future__ import annotations

import json
import os

# OpenMP threads (torch's and numba's) that spin while they wait take the CPU from the other
# busy processes of a loaded machine: passive waiting ran three test files 1.7x faster at load
# 6 (farm-bench, BENCHMARKS.md). Set before anything loads OpenMP; subprocesses inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from embedrec.cli import app

# the service tests' fixtures (a served model, a running server, PostgreSQL), shared by modules
pytest_plugins = ["tests.service_support"]


def pytest_configure(config: pytest.Config) -> None:
    """Each pytest-xdist worker (the README's `-n auto`) keeps numba's compiled kernels in a
    folder of its own: numba writes its cache index without a lock, so two workers compiling
    two signatures of one kernel at once on an empty cache (a fresh clone) could each record
    the other's machine code under its own signature. Set before any test module imports
    numba (numba reads it once); subprocesses inherit it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and "NUMBA_CACHE_DIR" not in os.environ:
        if "numba" in sys.modules:
            raise pytest.UsageError("numba was imported before its cache folder could be set")
        folder = os.path.join(tempfile.gettempdir(), f"embedrec-tests-numba-{os.getuid()}")
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(folder, worker)


SHARED_MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens"
ML100K = SHARED_MOVIELENS / "ml-100k"
NO_ML100K = "needs the full MovieLens 100k at ../shared/data/movielens/ml-100k (absent here)"
MOVIETWEETINGS_100K = SHARED_MOVIELENS.parent / "movietweetings" / "snapshots" / "100K"


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    if not (ML100K / "u.data").is_file():
        pytest.skip(NO_ML100K)
    return ML100K


@pytest.fixture(scope="session")
def movietweetings_dir() -> Path:
    if not (MOVIETWEETINGS_100K / "ratings.dat").is_file():
        pytest.skip(
            "needs MovieTweetings 100K at ../shared/data/movietweetings/snapshots/100K (absent)"
        )
    return MOVIETWEETINGS_100K


@pytest.fixture(scope="session")
def ml100k(ml100k_dir):
    from embedrec import load_movielens

    return load_movielens(ml100k_dir)


@pytest.fixture(scope="session")
def chapter_split(ml100k):
    from embedrec import random_split

    return random_split(ml100k, valid_pct=0.2, seed=42)


@pytest.fixture(scope="session")
def chapter_model(chapter_split):
    """DotProductBias with the chapter's recipe, trained once for every test that reads it."""
    from embedrec import train

    return train(chapter_split, model="dot-bias", epochs=5, lr=5e-3, wd=0.1, bs=64, seed=42)


@pytest.fixture(scope="session")
def u1_default(ml100k_dir, tmp_path_factory) -> tuple[dict, Path]:
    """(--json report, model folder) of `embedrec train --data movielens-100k --split u1`, the
    default as a user trains it on u1, run once: its choice on carved validation and its bmf
    run are the costliest training the tests share (the CLI's and the default's own tests)."""
    out = tmp_path_factory.mktemp("u1") / "default"
    args = ["train", "--data", "movielens-100k", "--split", "u1", "--out", str(out), "--json"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDREC_DATA", str(ml100k_dir.parent))
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), out


def low_rank_frame(n_users=40, n_items=30, density=0.5, rank=3, seed=0) -> pd.DataFrame:
    """Ratings 1-5 from a known low-rank model, with string user ids and int item ids."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n_users, rank))
    v = rng.normal(size=(n_items, rank))
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    scores = (u[users] * v[items]).sum(1)
    ratings = np.clip(np.round(3 + scores / scores.std()), 1, 5)
    return pd.DataFrame(
        {
            "user": [f"u{x}" for x in users],
            "item": items + 100,
            "rating": ratings,
            "timestamp": rng.integers(10**9, 2 * 10**9, size=len(users)),
        }
    )


def plays_frame(n_users=40, n_items=30, seed=0, titles=False) -> pd.DataFrame:
    """Play counts (1-39) of listeners in two taste groups, each liking half the artists (ids
    from 100): interactions, no ratings; with `titles`, artists named 'Artist A', 'Artist B'..."""
    rng = np.random.default_rng(seed)
    rows = [
        (f"u{user}", 100 + item, int(rng.integers(1, 40)))
        for user in range(n_users)
        for item in range(n_items)
        if (item < n_items // 2) == (user < n_users // 2) and rng.random() < 0.6
    ]
    frame = pd.DataFrame(rows, columns=["user", "artist", "plays"])
    if titles:
        frame["title"] = [f"Artist {chr(65 + item - 100)}" for item in frame["artist"]]
    return frame


@pytest.fixture
def small_frame() -> pd.DataFrame:
    return low_rank_frame()


# ---- the hostile-input corpus (tests/test_hostile_*.py, helpers in tests/hostile.py) ----
@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="session")
def good_csv(corpus_dir) -> Path:
    return hostile_ratings(corpus_dir / "ratings.csv")


@pytest.fixture(scope="session")
def trained_dir(corpus_dir, good_csv) -> Path:
    """A dot-bias model trained by the CLI once (ratings 1-5, users u0.., items 100..)."""
    out = corpus_dir / "model"
    result = CliRunner().invoke(
        app,
        [
            "train", "--data", str(good_csv), "--model", "dot-bias", "--epochs", "1",
            "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def model_copy(trained_dir, tmp_path) -> Path:
    """A copy of the trained model for a case to damage."""
    return Path(shutil.copytree(trained_dir, tmp_path / "model"))


def hostile_ratings(path: Path) -> Path:
    low_rank_frame(n_users=30, n_items=20, seed=4).to_csv(path, index=False)
    return path


def pytest_terminal_summary(terminalreporter) -> None:
    """The hostile corpus's own counts, when any of it ran: how many inputs it tried and how
    many ended as they should (one error line, or the documented result)."""
    outcomes: dict[str, int] = {}
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if report.when == "call" or outcome == "error":
                if report.nodeid.startswith("tests/test_hostile_"):
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
    tried = sum(outcomes.values())
    if tried:
        bad = tried - outcomes.get("passed", 0)
        terminalreporter.write_line(
            f"hostile corpus: {tried} inputs tried, {outcomes.get('passed', 0)} handled well, "
            f"{bad} not"
        )
