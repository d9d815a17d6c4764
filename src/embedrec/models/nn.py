"""The chapter's neural model: concatenated user and item embeddings through an MLP."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from embedrec.models.dot import embedding, sigmoid_range
from embedrec.models.sizes import embedding_size


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
    ):
        super().__init__()
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
            raise ValueError(f"{len(drops)} dropout values for {len(self.layers)} layers")
        self.dropout, self.embed_dropout, self.batchnorm = drops, float(embed_dropout), batchnorm
        self.y_range = tuple(y_range) if y_range is not None else None
        self.user_factors = embedding(n_users, self.user_size)
        self.item_factors = embedding(n_items, self.item_size)
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
        blocks.append(nn.Linear(width, 1))
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
        }

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.score_pairs(self.user_factors(users), self.item_factors(items))

    def score_pairs(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
        x = torch.cat([user_vectors, item_vectors], dim=1)
        score = self.mlp(self.embed_drop(x)).squeeze(1)
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
