"""The chapter's building blocks, for modules written by hand: fastai's `Embedding` and
`create_params`, both started at small random values.

The start matters more than it looks: `torch.nn.Embedding` draws its weights from N(0, 1), so a
dot product of 50 such factors starts with a spread of about 7 stars and, behind a sigmoid,
saturates at the ends of the range; trained as the chapter does, that gives a valid loss of
1.1-8 instead of 0.87. fastai (and every built-in kind here) starts at std 0.01.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

INIT_STD = 0.01  # fastai's: small enough that a fresh model predicts near its biases


class Embedding(nn.Embedding):
    """An `nn.Embedding` initialised as fastai's: a normal of std 0.01 truncated at +-2 std.

    >>> table = Embedding(943, 50)  # as `torch.nn.Embedding(943, 50)`, with fastai's start
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, **kwargs):
        super().__init__(num_embeddings, embedding_dim, **kwargs)
        with torch.no_grad():
            nn.init.trunc_normal_(self.weight, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)


def create_params(size: Sequence[int] | int) -> nn.Parameter:
    """A parameter of this shape drawn from N(0, 0.01), the chapter's `create_params`.

    >>> user_bias = create_params([943])  # doctest: +SKIP
    """
    shape = [size] if isinstance(size, int) else list(size)
    return nn.Parameter(torch.zeros(*shape).normal_(0, INIT_STD))
