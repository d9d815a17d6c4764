"""The chapter's models: shapes, y_range, the embedding = one-hot product identity, and a raw
parameter table model training exactly like the nn.Embedding one."""

import numpy as np
import pytest
import torch
from torch import nn

from embedrec import (
    DotProduct,
    DotProductBias,
    EmbeddingNN,
    TrainConfig,
    embedding_size,
    ratings_from_frame,
    sigmoid_range,
)
from embedrec.errors import ModelError
from embedrec.models import DotProductBiasKind, build, get_kind
from embedrec.models.dot_arrays import ridge_fit
from tests.conftest import low_rank_frame


def test_embedding_lookup_is_a_one_hot_matrix_product():
    torch.manual_seed(0)
    emb = nn.Embedding(10, 4)
    idx = torch.tensor([3, 0, 9, 3])
    one_hot = nn.functional.one_hot(idx, 10).float()
    assert torch.allclose(emb(idx), one_hot @ emb.weight)


class ParameterTableDotBias(nn.Module):
    """The chapter's from-scratch model: plain nn.Parameter tables indexed by hand."""

    def __init__(self, source: DotProductBias):
        super().__init__()
        self.u = nn.Parameter(source.user_factors.weight.detach().clone())
        self.i = nn.Parameter(source.item_factors.weight.detach().clone())
        self.ub = nn.Parameter(source.user_bias.weight.detach().clone())
        self.ib = nn.Parameter(source.item_bias.weight.detach().clone())
        self.y_range = source.y_range

    def forward(self, users, items):
        x = (self.u[users] * self.i[items]).sum(1) + self.ub[users, 0] + self.ib[items, 0]
        return sigmoid_range(x, *self.y_range)


def test_parameter_table_model_trains_to_the_same_loss():
    torch.manual_seed(1)
    users, items = torch.randint(0, 20, (512,)), torch.randint(0, 15, (512,))
    ratings = torch.rand(512) * 4 + 1
    embedded = DotProductBias(20, 15, n_factors=8, y_range=(0, 5.5))
    table = ParameterTableDotBias(embedded)
    losses = {}
    for name, model in (("embedding", embedded), ("table", table)):
        opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)
        for _ in range(50):
            loss = nn.functional.mse_loss(model(users, items), ratings)
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses[name] = loss.item()
    assert losses["embedding"] == pytest.approx(losses["table"], rel=1e-5)
    assert losses["embedding"] < 1.0  # it learned something: the initial loss is about 9


def test_sigmoid_range_stays_inside():
    x = torch.tensor([-1e4, 0.0, 1e4])
    y = sigmoid_range(x, 0, 5.5)
    assert y.tolist() == pytest.approx([0.0, 2.75, 5.5])


@pytest.mark.parametrize("n, size", [(1, 2), (944, 74), (1665, 102), (10**7, 600)])
def test_embedding_size_rule(n, size):
    assert embedding_size(n) == size == min(600, round(1.6 * n**0.56))


@pytest.mark.parametrize("cls", [DotProduct, DotProductBias])
def test_dot_models_score_pairs_within_y_range(cls):
    model = cls(5, 7, n_factors=3, y_range=(1, 5))
    out = model(torch.tensor([0, 4]), torch.tensor([6, 0]))
    assert out.shape == (2,) and ((out > 1) & (out < 5)).all()
    assert cls(5, 7, n_factors=3)(torch.tensor([0]), torch.tensor([0])).abs().item() < 0.1


def test_dot_product_is_the_dot_product():
    model = DotProduct(3, 3, n_factors=2)
    with torch.no_grad():
        model.user_factors.weight.copy_(torch.tensor([[1.0, 2.0], [0, 0], [0, 0]]))
        model.item_factors.weight.copy_(torch.tensor([[3.0, 4.0], [0, 0], [0, 0]]))
    assert model(torch.tensor([0]), torch.tensor([0])).item() == 11.0


def test_embedding_nn_uses_the_size_rule_and_layers():
    model = EmbeddingNN(944, 1665, layers=[100, 50], y_range=(0, 5.5))
    assert (model.user_size, model.item_size) == (74, 102)
    linears = [m for m in model.mlp if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(176, 100), (100, 50), (50, 1)]
    model.eval()
    out = model(torch.tensor([0, 1]), torch.tensor([2, 3]))
    assert out.shape == (2,) and ((out > 0) & (out < 5.5)).all()


def test_build_model_by_name():
    ratings = ratings_from_frame(low_rank_frame(n_users=3, n_items=4, density=1.0))
    kind = build(TrainConfig(model="dot-bias", n_factors=2), ratings)
    assert isinstance(kind, DotProductBiasKind) and isinstance(kind.network, DotProductBias)
    assert (kind.n_users, kind.n_items, kind.network.n_factors) == (3, 4, 2)
    with pytest.raises(ModelError, match="unknown model 'svd'"):
        get_kind("svd")
    with pytest.raises(ModelError, match="unknown model 'svd'"):
        build(TrainConfig(model="svd"), ratings)


def test_init_is_fastai_small_truncated_normal():
    w = DotProduct(1000, 10, n_factors=50).user_factors.weight.detach().numpy()
    assert np.abs(w).max() <= 0.02 and 0.007 < w.std() < 0.011


def test_embedding_size_of_ratings_is_fastais_get_emb_sz(small_frame):
    ratings = ratings_from_frame(small_frame)
    assert embedding_size(ratings) == (
        embedding_size(ratings.n_users),
        embedding_size(ratings.n_items),
    )
    with pytest.raises(ModelError, match="count of at least 1"):
        embedding_size(0)


@pytest.mark.parametrize("y_range", [None, (0.5, 5.5)])
def test_a_few_ratings_fold_in_through_the_dual_to_the_same_vector(y_range):
    """A new user with 20 ratings against a 1,100-wide posterior mean (bmf's) is solved as a
    20 x 20 system: the same vector the 1,101 x 1,101 normal equations give."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 1101)) * 0.1
    offset = rng.normal(size=20) * 0.2 + 3.0
    y = rng.integers(1, 6, 20).astype(np.float64)
    primal = ridge_fit(x, offset, y, y_range, reg=1.0, refine_steps=5, dual=False)
    dual = ridge_fit(x, offset, y, y_range, reg=1.0, refine_steps=5, dual=True)
    assert np.allclose(dual, primal, atol=1e-9)
    assert np.array_equal(ridge_fit(x, offset, y, y_range, reg=1.0, refine_steps=5), dual)


@pytest.mark.parametrize(
    ("model", "expected"),
    [("dot", None), ("dot-bias", (0.0, 5.5)), ("nn", (0.0, 5.5))],
)
def test_the_default_y_range_is_the_chapters_for_each_model(model, expected):
    """The chapter's first DotProduct has no sigmoid_range; its DotProductBias and CollabNN
    squash into (0, 5.5). A range given is a range taken, by `dot` too."""
    ratings = ratings_from_frame(low_rank_frame(n_users=12, n_items=10), rating_scale=(1, 5))
    assert build(TrainConfig(model=model), ratings).network.y_range == expected
    given = build(TrainConfig(model=model, y_range=(1.0, 5.0)), ratings)
    assert given.network.y_range == (1.0, 5.0)
