"""Every kind is validated by its own metric: RMSE for rating models, NDCG@10 over the full
ranking of unseen items for ranking models; the epoch table, keep="best", patience and tune
follow it. And a torch kind trains on its own objective."""

import io
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from rich.console import Console
from torch import nn
from typer.testing import CliRunner

import embedrec
from embedrec import evaluate_ranking, train
from embedrec.cli import app
from embedrec.evaluation.validation import relevance_threshold
from embedrec.models import KINDS, DotProductBiasKind
from embedrec.models.objective import Batch, Objective
from embedrec.training import RichReporter
from embedrec.tuning import tune
from tests.conftest import low_rank_frame
from tests.planted import taste_groups


@pytest.fixture(scope="module")
def split():
    return taste_groups()


def ndcg(rec, split, threshold=4.0):
    return evaluate_ranking(rec.score_items, split.train, split.valid, 10, threshold)["ndcg@10"]


def test_a_ranking_kind_is_validated_by_ndcg_every_epoch(split):
    rec = train(split, model="ials", n_factors=8, epochs=4)
    assert [h.metric for h in rec.history] == ["ndcg@10"] * 4
    assert all(h.valid_rmse is None and h.valid_loss is None for h in rec.history)
    assert rec.history[-1].valid_metric == pytest.approx(ndcg(rec, split))


def test_a_rating_kind_keeps_its_rmse_columns(split):
    rec = train(split, model="dot-bias", epochs=2)
    last = rec.history[-1]
    assert last.metric == "rmse" and last.valid_metric == last.valid_rmse
    assert last.valid_rmse == pytest.approx(embedrec.evaluate(rec, split.valid)["rmse"])


def test_keep_best_and_patience_follow_ndcg_for_ials(split):
    rec = train(split, model="ials", n_factors=8, epochs=40, keep="best", patience=1)
    scores = [h.valid_metric for h in rec.history]
    best = int(np.argmax(scores))
    assert len(scores) < 40 and len(scores) - 1 == best + 1  # stopped one epoch past the best
    assert ndcg(rec, split) == pytest.approx(scores[best])  # and kept the best, not the last


def test_ease_is_one_validated_epoch_and_the_table_names_the_metric(split):
    out = io.StringIO()
    reporter = RichReporter(Console(file=out, width=120))
    rec = train(split, model="ease", l2=50.0, progress=reporter)
    assert len(rec.history) == 1 and rec.history[0].valid_metric == pytest.approx(ndcg(rec, split))
    assert "valid_ndcg@10" in out.getvalue() and "valid_rmse" not in out.getvalue()


def test_every_held_out_choice_is_relevant_in_interaction_data():
    data = taste_groups(interactions=True)
    assert relevance_threshold(data.train) is None
    assert relevance_threshold(replace(data.train, interactions=False)) == 4.0
    ten_stars = replace(data.train, interactions=False, rating_scale=(0.0, 10.0))
    assert relevance_threshold(ten_stars) == 7.5
    rec = train(data, model="ials", n_factors=8, epochs=2)
    assert rec.history[-1].valid_metric == pytest.approx(ndcg(rec, data, threshold=None))


def test_the_metric_survives_save_and_load(split, tmp_path):
    rec = train(split, model="ials", n_factors=8, epochs=2)
    rec.save(tmp_path / "m")
    loaded = embedrec.load(tmp_path / "m")
    assert [h.as_dict() for h in loaded.history] == [h.as_dict() for h in rec.history]


@pytest.mark.parametrize("model", ["ease", "ials"])
def test_tune_maximises_ndcg_for_a_ranking_kind(split, model):
    result = tune(split, embedrec.TrainConfig(model=model, epochs=3), trials=2, seed=1)
    scores = [t["valid_ndcg@10"] for t in result.trials]
    assert result.metric.name == "ndcg@10" and result.best_valid == max(scores)
    assert result.test is not None and 0 < result.test <= 1
    assert result.best_valid_rmse is None


class Reversed(Objective):
    """A deliberately wrong objective: learn 6 - rating, so high ratings predict low."""

    def loss(self, forward: nn.Module, batch: Batch) -> torch.Tensor:
        users, items, ratings = batch
        return nn.functional.mse_loss(forward(users, items), 6.0 - ratings)


class ReversedKind(DotProductBiasKind):
    name = "dot-bias-reversed"

    def objective(self) -> Objective:
        return Reversed()


def test_the_torch_engine_trains_on_the_kinds_objective(monkeypatch):
    data = embedrec.ratings_from_frame(low_rank_frame(seed=2), rating_scale=(1, 5))
    monkeypatch.setitem(KINDS, ReversedKind.name, ReversedKind)
    options = dict(epochs=20, lr=1e-2, ranker=None)
    own = train(data, model="dot-bias-reversed", **options)
    assert own.engine == "torch"  # the fused kernels know squared error only
    plain = train(data, model="dot-bias", engine="torch", **options)

    def correlation(rec):
        predicted = rec.model.predict(data.users, data.items)
        return np.corrcoef(predicted, data.ratings)[0, 1]

    assert correlation(own) < -0.5 < 0.5 < correlation(plain)


def test_tune_cli_names_the_ranking_metric(tmp_path):
    data = tmp_path / "r.csv"
    low_rank_frame(n_users=60, n_items=40, seed=4).to_csv(data, index=False)
    args = ["tune", "--data", str(data), "--model", "ease", "--trials", "2"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a.json"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["metric"] == "ndcg@10" and report["best_valid_rmse"] is None
    assert report["best_valid"] == max(t["valid_ndcg@10"] for t in report["trials"])
    shown = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "b.json")])
    assert shown.exit_code == 0, shown.output
    assert "best valid NDCG@10" in shown.output and "test NDCG@10" in shown.output
