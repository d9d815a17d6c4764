"""The neural model trained as a classifier over the rating values (cross-entropy), predicting
the expected rating: it learns, saves and loads, folds in, and only nn takes it."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import embedrec
from embedrec import ModelError, evaluate, random_split, ratings_from_frame, train
from embedrec.cli import app
from embedrec.models import EmbeddingNN
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module")
def split():
    frame = low_rank_frame(n_users=80, n_items=60, density=0.5, seed=5)
    return random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)


def test_the_classifier_predicts_the_expected_rating():
    net = EmbeddingNN(4, 3, layers=[8], classes=[1, 2, 3, 4, 5]).eval()
    users, items = torch.tensor([0, 1, 3]), torch.tensor([0, 2, 1])
    probabilities = torch.softmax(net.logits(users, items), dim=1)
    assert probabilities.shape == (3, 5)
    expected = probabilities @ torch.arange(1.0, 6.0)
    assert torch.allclose(net(users, items), expected)


def test_cross_entropy_learns_and_round_trips(split, tmp_path):
    rec = train(split, model="nn", loss="cross-entropy", epochs=8, lr=1e-2, device="cpu")
    mean_only = float(np.sqrt(np.mean((split.valid.ratings - split.train.ratings.mean()) ** 2)))
    rmse = evaluate(rec, split.valid)["rmse"]
    assert rmse < mean_only and rec.history[-1].train_loss < rec.history[0].train_loss
    assert rec.model.network.classes == [1.0, 2.0, 3.0, 4.0, 5.0]
    predictions = rec.predict([("u1", 100), ("u2", 101)])["score"]
    assert predictions.between(1, 5).all()
    rec.save(tmp_path / "m")
    loaded = embedrec.load(tmp_path / "m")
    assert loaded.config.loss == "cross-entropy"
    assert evaluate(loaded, split.valid) == evaluate(rec, split.valid)
    folded = loaded.recommend(ratings={100: 5, 101: 1}, n=3)
    assert len(folded) == 3 and folded["score"].between(1, 5).all()


def test_only_the_neural_model_takes_it(split):
    with pytest.raises(ModelError, match="loss 'cross-entropy' does not train dot-bias"):
        train(split, model="dot-bias", loss="cross-entropy")
    with pytest.raises(ModelError, match=r"loss \(--loss\) must be one of mse, cross-entropy"):
        train(split, model="nn", loss="hinge")


def test_continuous_ratings_are_refused_as_classes():
    rng = np.random.default_rng(0)
    frame = low_rank_frame(seed=1)
    frame["rating"] = rng.uniform(1, 5, len(frame))
    split = random_split(ratings_from_frame(frame), 0.2, 0)
    with pytest.raises(ModelError, match="treats each rating value as a class"):
        train(split, model="nn", loss="cross-entropy")


def test_cli_loss_option(tmp_path):
    data = tmp_path / "r.csv"
    low_rank_frame(seed=4).to_csv(data, index=False)
    runner = CliRunner()
    args = ["train", "--data", str(data), "--model", "nn", "--epochs", "1", "--json"]
    result = runner.invoke(app, [*args, "--loss", "cross-entropy", "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["config"]["loss"] == "cross-entropy"
    bad = runner.invoke(app, [*args, "--loss", "nope", "--out", str(tmp_path / "n")])
    assert bad.exit_code == 2 and "loss (--loss) must be one of" in bad.output
