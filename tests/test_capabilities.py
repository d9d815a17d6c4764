"""Engines take a model by what it can do (`models/capabilities.py`), not by its class: every
kind has the capability of each engine it lists, and an engine refuses a model without it."""

import pytest
import torch

from embedrec import ratings_from_frame
from embedrec.config import TrainConfig
from embedrec.models import DotProductBias
from embedrec.models.capabilities import GradientTrainable, OwnTrainer, fused_trainable
from embedrec.models.registry import build, kinds, resolve
from embedrec.training import ENGINES, choose_engine
from tests.conftest import low_rank_frame

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def ratings():
    return ratings_from_frame(low_rank_frame(n_users=30, n_items=20, seed=1), rating_scale=(1, 5))


@pytest.mark.parametrize("name", [n for n, kind in kinds().items() if kind.by_name])
def test_every_engine_a_kind_lists_supports_its_models(ratings, name):
    model = build(resolve(TrainConfig(model=name, device="cpu")), ratings)
    listed = model.engines
    assert listed and all(ENGINES[engine].supports(model, CPU) for engine in listed), listed


@pytest.mark.parametrize("name", [n for n, kind in kinds().items() if kind.by_name])
def test_auto_picks_an_engine_the_kind_lists(ratings, name):
    config = resolve(TrainConfig(model=name, device="cpu"))
    assert choose_engine(build(config, ratings), config).name in kinds()[name].engines


def test_capabilities_follow_what_the_model_holds(ratings):
    dot_bias = build(resolve(TrainConfig(model="dot-bias", device="cpu")), ratings)
    nn_model = build(resolve(TrainConfig(model="nn", device="cpu")), ratings)
    ials = build(resolve(TrainConfig(model="ials", device="cpu")), ratings)
    assert isinstance(dot_bias, GradientTrainable) and fused_trainable(dot_bias)
    assert isinstance(nn_model, GradientTrainable) and not fused_trainable(nn_model)
    assert not isinstance(ials, GradientTrainable) and not fused_trainable(ials)
    assert isinstance(dot_bias.network, DotProductBias)


def test_an_engine_refuses_a_model_without_its_capability(ratings):
    ials = build(resolve(TrainConfig(model="ials", device="cpu")), ratings)
    nn_model = build(resolve(TrainConfig(model="nn", device="cpu")), ratings)
    assert not ENGINES["torch"].supports(ials, CPU)
    assert not ENGINES["fused"].supports(ials, CPU)
    assert not ENGINES["own"].supports(nn_model, CPU)
    assert not isinstance(nn_model, OwnTrainer) and isinstance(ials, OwnTrainer)
