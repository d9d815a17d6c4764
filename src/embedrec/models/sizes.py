"""fastai's rule of thumb for embedding sizes."""

from __future__ import annotations

from typing import overload

from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError


@overload
def embedding_size(n: int) -> int: ...


@overload
def embedding_size(n: Ratings) -> tuple[int, int]: ...


def embedding_size(n: int | Ratings) -> int | tuple[int, int]:
    """Embedding width for `n` categories: `min(600, round(1.6 * n**0.56))` (fastai's rule);
    given ratings, the (user, item) widths, as fastai's `get_emb_sz(dls)` gives them.

    >>> embedding_size(944), embedding_size(1665)
    (74, 102)
    """
    if isinstance(n, Ratings):
        return embedding_size(n.n_users), embedding_size(n.n_items)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ModelError(f"embedding_size takes a count of at least 1 or a Ratings, got {n!r}")
    return min(600, round(1.6 * n**0.56))
