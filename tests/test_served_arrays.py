"""A model loaded to score only (`arrays_only=True`, what `embedrec serve` does): the kinds whose
scoring is arrays give the same scores, lists, fold-ins and neighbours as the trained model,
with their weights memory-mapped, and a served worker of such a model imports no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import embedrec
from embedrec import random_split, ratings_from_frame, train
from embedrec.models import dot_arrays
from tests.conftest import low_rank_frame

SRC = Path(__file__).resolve().parents[1] / "src"
ARRAY_KINDS = [
    ("dot", {"y_range": None, "engine": "torch"}),
    ("dot", {"y_range": (0.5, 5.5)}),
    ("dot-bias", {}),
    ("dot-bias", {"y_range": None, "engine": "torch"}),
    ("bmf", {"options": {"shrink": 2.0}}),
    ("ials", {}),
    ("ease", {}),
    ("popular", {}),
    ("bias", {}),
]


@pytest.fixture(scope="module")
def split():
    frame = low_rank_frame(n_users=50, n_items=40, density=0.4, seed=3)
    return random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)


def both_ways(split, tmp_path, model, options):
    rec = train(split, model=model, epochs=3, device="cpu", ranker=None, **options)
    rec.save(tmp_path / "m")
    return embedrec.load(tmp_path / "m"), embedrec.load(tmp_path / "m", arrays_only=True)


@pytest.mark.parametrize(("model", "options"), ARRAY_KINDS)
def test_arrays_score_as_the_trained_model(split, tmp_path, model, options):
    trained, served = both_ways(split, tmp_path, model, options)
    assert type(served.model).__module__ != type(trained.model).__module__ or model in (
        "ials", "ease", "popular", "bias",
    )  # fmt: skip
    assert served.model_name == trained.model_name
    users = np.arange(served.n_users)
    np.testing.assert_allclose(served.score_items(users), trained.score_items(users), rtol=1e-5)
    if trained.model.predicts_ratings:
        pairs = (split.valid.users, split.valid.items)
        np.testing.assert_allclose(
            served.predict_indices(*pairs), trained.predict_indices(*pairs), rtol=1e-5
        )
    user = trained.user_map.decode(np.array([0]))[0]
    assert (
        served.recommend(user, n=5)["item"].tolist()
        == trained.recommend(user, n=5)["item"].tolist()
    )
    items = trained.item_map.decode(np.arange(6))
    new_user = {item: float(r) for item, r in zip(items, [5, 4, 1, 2, 5, 3])}
    np.testing.assert_allclose(
        served.recommend(ratings=new_user, n=5)["score"],
        trained.recommend(ratings=new_user, n=5)["score"],
        rtol=1e-4,
    )
    if trained.model.factors("item") is not None:
        assert (
            served.similar_items(items[0], n=3, min_ratings=0)["item"].tolist()
            == trained.similar_items(items[0], n=3, min_ratings=0)["item"].tolist()
        )


def test_pairs_are_scored_in_bounded_blocks_with_the_same_result(split, tmp_path, monkeypatch):
    """predict gathers rows a block at a time (a million pairs of a 1,100-wide bmf would gather
    9 GB at once): blocks of 7 pairs give every pair the score of the trained model."""
    trained, served = both_ways(split, tmp_path, "dot-bias", {})
    monkeypatch.setattr(dot_arrays, "BATCH_PAIRS", 7)
    pairs = (split.valid.users, split.valid.items)
    assert len(pairs[0]) > 7
    np.testing.assert_allclose(
        served.predict_indices(*pairs), trained.predict_indices(*pairs), rtol=1e-5
    )


def test_served_weights_are_mapped_from_the_file(split, tmp_path):
    _, served = both_ways(split, tmp_path, "dot-bias", {})
    factors = served.model.factors("item")
    assert isinstance(factors.base, np.memmap) or isinstance(factors.base.base, np.memmap)
    assert not factors.flags.writeable


def test_a_broken_weights_file_is_refused_as_arrays_too(split, tmp_path):
    trained, _ = both_ways(split, tmp_path, "dot-bias", {})
    weights = tmp_path / "m" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8])
    with pytest.raises(embedrec.ModelError, match="weights.safetensors"):
        embedrec.load(tmp_path / "m", arrays_only=True)


SERVE = """
import json, sys
from fastapi.testclient import TestClient
from embedrec.service import create_app

with TestClient(create_app(sys.argv[1])) as client:
    listed = client.get("/users/" + sys.argv[2] + "/recommendations", params={"n": 3})
    folded = client.post("/recommendations", json={"ratings": {sys.argv[3]: 5}, "n": 3})
print(json.dumps({
    "status": [listed.status_code, folded.status_code],
    "items": [row["item"] for row in listed.json()["items"]],
    "torch": "torch" in sys.modules,
}))
"""


@pytest.mark.parametrize(
    ("model", "needs_torch"), [("bmf", False), ("dot-bias", False), ("nn", True)]
)
def test_a_served_worker_imports_torch_only_for_a_torch_kind(split, tmp_path, model, needs_torch):
    rec = train(split, model=model, epochs=3, device="cpu", ranker=None)
    rec.save(tmp_path / "m")
    user = str(rec.user_map.decode(np.array([0]))[0])
    item = str(rec.item_map.decode(np.array([0]))[0])
    done = subprocess.run(
        [sys.executable, "-c", SERVE, str(tmp_path / "m"), user, item],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["status"] == [200, 200]
    assert [str(i) for i in found["items"]] == [str(i) for i in rec.recommend(user, n=3)["item"]]
    assert found["torch"] is needs_torch
