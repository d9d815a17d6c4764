"""benchmarks/datasets.py, the table over several data sets: what a rerun after a merge relies
on. A set whose file is absent is skipped with the path looked for; the target lines read the
table right. Its figures are measured, not tested (BENCHMARKS.md, "Several data sets")."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("implicit", reason="benchmarks/ compare against implicit (the bench extra)")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def datasets(monkeypatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the script imports its sibling ranking_peers
    spec = importlib.util.spec_from_file_location("benchmark_datasets", BENCHMARKS / "datasets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up
    spec.loader.exec_module(module)
    return module


def test_a_missing_data_set_is_skipped_naming_the_path_looked_for(datasets, tmp_path):
    sets, skipped = datasets.load_sets(["ml100k", "movietweetings", "lastfm"], tmp_path)
    assert sets == []
    assert f"{tmp_path / 'movielens' / 'ml-100k'} not found" in skipped["ml100k"]
    plays = tmp_path / "lastfm" / "hetrec2011-lastfm-2k" / "user_artists.dat"
    assert f"{plays} not found" in skipped["lastfm"]
    assert "ratings.dat not found" in skipped["movietweetings"]


def test_the_target_lines_say_which_hold_and_which_miss(datasets):
    rows = [
        {"set": "x", "system": "default", "rmse": 0.9, "precision@10": 0.2, "ndcg@10": 0.3},
        {"set": "x", "system": "dot-bias", "rmse": 0.85},
        {"set": "x", "system": "EASE, defaults", "precision@10": 0.1, "ndcg@10": 0.25},
        {"set": "x", "system": "EASE, best of 5 on test: l2 100", "ndcg@10": 0.35},
        {"set": "x", "system": "most popular", "precision@10": 0.05, "ndcg@10": 0.1},
    ]
    assert datasets.targets({"rows": rows}) == [
        "x: default rmse 0.9000 <= 0.8500 (best of bias baseline, dot-bias, bmf): MISSES",
        "x: default precision@10 0.2000 >= 0.1000 (best of EASE, iALS, implicit ALS): holds",
        "x: default precision@10 0.2000 > 0.0500 (most popular): holds",
        "x: default ndcg@10 0.3000 >= 0.3500 (best of EASE, iALS, implicit ALS): MISSES",
        "x: default ndcg@10 0.3000 > 0.1000 (most popular): holds",
    ]
