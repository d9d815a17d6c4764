"""The chapter's neural model: concatenated user and item embeddings through an MLP.

A new user has no closed form here: a fresh user embedding, started at the mean of the trained
ones, takes a few Adam steps with the network frozen, pulled towards the mean user.

With `loss="cross-entropy"` (the chapter's questionnaire: rating prediction as classification)
the last layer has one output per rating value seen in training; the model is trained on the
cross-entropy of those logits and predicts the expected rating, so everything downstream
(evaluation, ranking, fold-in) reads a rating as from the MSE model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, cast

import numpy as np
import torch
from pydantic import Field
from torch import nn

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import NoOptions, gradient_search_space
from embedrec.models.dot import sigmoid_range
from embedrec.models.layers import Embedding
from embedrec.models.objective import Batch, Objective
from embedrec.models.registry import register
from embedrec.models.sizes import embedding_size
from embedrec.models.torch_model import TorchModel

# Chosen on 100 users held out of ML-100k (`benchmarks/foldin.py --models nn`): 0.903 at 5,
# 0.912 at 0.3, 0.909 at 1, 0.906 at 20.
FOLD_IN_REG = 5.0
MAX_CLASSES = 20  # rating values cross-entropy takes as classes (MovieLens' half stars: 10)


class EmbeddingNN(nn.Module):
    """fastai's `EmbeddingNN` (a `TabularModel` over two embeddings): each hidden layer is
    Linear -> ReLU -> BatchNorm -> Dropout, then a final Linear to one output in `y_range`.

    Embedding widths follow `embedding_size(n)` unless given.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        layers: Sequence[int] = (100, 50),
        user_size: int | None = None,
        item_size: int | None = None,
        dropout: Sequence[float] | float = 0.0,
        embed_dropout: float = 0.0,
        batchnorm: bool = True,
        y_range: tuple[float, float] | None = None,
        classes: Sequence[float] | None = None,
    ):
        super().__init__()
        self.classes = [float(c) for c in classes] if classes is not None else None
        self.n_users, self.n_items = n_users, n_items
        self.layers = [int(n) for n in layers]
        self.user_size = user_size or embedding_size(n_users)
        self.item_size = item_size or embedding_size(n_items)
        drops = (
            [float(dropout)] * len(self.layers)
            if isinstance(dropout, (int, float))
            else [float(p) for p in dropout]
        )
        if len(drops) != len(self.layers):
            raise ModelError(f"{len(drops)} dropout values for {len(self.layers)} layers")
        self.dropout, self.embed_dropout, self.batchnorm = drops, float(embed_dropout), batchnorm
        self.y_range = tuple(y_range) if y_range is not None else None
        self.user_factors = Embedding(n_users, self.user_size)
        self.item_factors = Embedding(n_items, self.item_size)
        self.embed_drop = nn.Dropout(self.embed_dropout)
        blocks: list[nn.Module] = []
        width = self.user_size + self.item_size
        for out, p in zip(self.layers, drops):
            blocks += [nn.Linear(width, out, bias=not batchnorm), nn.ReLU()]
            if batchnorm:
                blocks.append(nn.BatchNorm1d(out))
            if p:
                blocks.append(nn.Dropout(p))
            width = out
        blocks.append(nn.Linear(width, len(self.classes) if self.classes else 1))
        self.mlp = nn.Sequential(*blocks)

    def config(self) -> dict:
        return {
            "layers": self.layers,
            "user_size": self.user_size,
            "item_size": self.item_size,
            "dropout": self.dropout,
            "embed_dropout": self.embed_dropout,
            "batchnorm": self.batchnorm,
            "y_range": self.y_range,
            "classes": self.classes,
        }

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.score_pairs(self.user_factors(users), self.item_factors(items))

    def class_values(self, device: torch.device) -> torch.Tensor:
        """The rating each output class stands for (a classifier's `classes`)."""
        return torch.tensor(self.classes or [], dtype=torch.float32, device=device)

    def logits(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """One logit per rating value (a classifier's output), shape (pairs, classes)."""
        return self.output(self.user_factors(users), self.item_factors(items))

    def output(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
        x = torch.cat([user_vectors, item_vectors], dim=1)
        return self.mlp(self.embed_drop(x))

    def score_pairs(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
        out = self.output(user_vectors, item_vectors)
        if self.classes:  # the expected rating under the predicted distribution
            return torch.softmax(out, dim=1) @ self.class_values(out.device)
        score = out.squeeze(1)
        return score if self.y_range is None else sigmoid_range(score, *self.y_range)

    def user_vectors(self, users: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.user_factors(users), None

    def score_user_vectors(
        self, vectors: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scores of every item for each user vector, shape (users, items)."""
        items = self.item_factors.weight
        rows = [self.score_pairs(v.expand(len(items), -1), items) for v in vectors]
        return torch.stack(rows) if rows else items.new_zeros((0, len(items)))


class Logits(nn.Module):
    """A classifier's `logits` as a module's forward, so a wrapper (DDP) sees the call."""

    def __init__(self, network: EmbeddingNN):
        super().__init__()
        self.network = network

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.network.logits(users, items)


class CrossEntropy(Objective):
    """Rating prediction as classification: the cross-entropy of the logits over the rating
    values seen in training (`EmbeddingNN.classes`) against the class of each rating."""

    def __init__(self, network: EmbeddingNN):
        self.classes = network.class_values(torch.device("cpu"))

    def module(self, network: nn.Module) -> nn.Module:
        return Logits(cast(EmbeddingNN, network))

    def loss(self, forward: nn.Module, batch: Batch) -> torch.Tensor:
        users, items, ratings = batch
        if self.classes.device != ratings.device:
            self.classes = self.classes.to(ratings.device)
        targets = torch.searchsorted(self.classes, ratings).clamp(max=len(self.classes) - 1)
        return nn.functional.cross_entropy(forward(users, items), targets)


def fold_in_nn(
    model: EmbeddingNN,
    items: torch.Tensor,
    ratings: torch.Tensor,
    reg: float = FOLD_IN_REG,
    steps: int = 100,
    lr: float = 0.05,
) -> tuple[torch.Tensor, None]:
    """A user embedding fitted by Adam with the network frozen, pulled towards the mean user."""
    model.eval()
    mean_user = model.user_factors.weight.detach().mean(0)
    vector = nn.Parameter(mean_user.clone())
    optimizer = torch.optim.Adam([vector], lr=lr)
    item_vectors = model.item_factors.weight.detach()[items]
    frozen = [(p, p.requires_grad) for p in model.parameters()]
    for parameter, _ in frozen:  # no gradients for the network: only the new vector learns
        parameter.requires_grad_(False)
    try:
        for _ in range(steps):
            predicted = model.score_pairs(vector.expand(len(items), -1), item_vectors)
            loss = ((predicted - ratings) ** 2).sum() + reg * ((vector - mean_user) ** 2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        for parameter, wanted in frozen:
            parameter.requires_grad_(wanted)
    return vector.detach(), None


def rating_classes(data: Ratings) -> list[float]:
    """The distinct training ratings, as the classes of a cross-entropy model."""
    values = np.unique(data.ratings)
    if len(values) > MAX_CLASSES:
        raise ModelError(
            f"loss 'cross-entropy' treats each rating value as a class; these ratings take "
            f"{len(values)} values (at most {MAX_CLASSES}): use loss 'mse'"
        )
    return values.astype(float).tolist()


class NNOptions(NoOptions):
    layers: list[Annotated[int, Field(ge=1, le=65536)]] = Field(
        [100, 50],
        min_length=1,
        max_length=64,
        description="hidden layer sizes",
        json_schema_extra={"flag": "--layers"},
    )
    dropout: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="dropout after each hidden layer",
        json_schema_extra={"flag": "--dropout"},
    )


@register
class EmbeddingNNKind(TorchModel):
    """`nn`: fastai's neural collaborative filter. `n_factors`, when given, is the width of
    both embeddings; unset, each side takes fastai's `embedding_size` rule."""

    name = "nn"
    summary = "embeddings through Linear-ReLU-BatchNorm layers"
    engines: ClassVar[tuple[str, ...]] = ("torch",)
    losses: ClassVar[tuple[str, ...]] = ("mse", "cross-entropy")
    defaults: ClassVar[dict[str, Any]] = {"epochs": 5, "wd": 0.1, "lr": 5e-3, "bs": 64}
    adapts: ClassVar[dict[str, str]] = {
        "n_factors": "fastai's rule, each side's width from its number of users or items"
    }
    Options: ClassVar[type[NoOptions]] = NNOptions
    network_class: ClassVar[type[nn.Module]] = EmbeddingNN
    network: EmbeddingNN

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> EmbeddingNNKind:
        options = cast(NNOptions, cls.parse_options(config.options))
        return cls(
            EmbeddingNN(
                data.n_users,
                data.n_items,
                layers=options.layers,
                user_size=config.n_factors,
                item_size=config.n_factors,
                dropout=options.dropout,
                y_range=config.resolved_y_range(data.rating_scale or data.observed_range),
                classes=rating_classes(data) if config.loss == "cross-entropy" else None,
            )
        )

    def objective(self) -> Objective:
        """Cross-entropy over the rating classes for a classifier, else squared error."""
        return CrossEntropy(self.network) if self.network.classes else Objective()

    def fold_in(
        self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None
    ) -> tuple[torch.Tensor, None]:
        self.network.cpu().eval()
        with torch.enable_grad():
            return fold_in_nn(
                self.network,
                torch.as_tensor(items, dtype=torch.int64),
                torch.as_tensor(ratings, dtype=torch.float32),
                reg=FOLD_IN_REG if reg is None else reg,
            )

    @classmethod
    def search_space(cls, trial: Any, base: TrainConfig) -> dict[str, Any]:
        changes = gradient_search_space(trial)
        width = trial.suggest_categorical("width", [50, 100, 200, 400])
        dropout = trial.suggest_float("dropout", 0.0, 0.5)
        options = {**base.options, "layers": [width, width // 2], "dropout": dropout}
        return {**changes, "options": options}
