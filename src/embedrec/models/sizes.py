"""fastai's rule of thumb for embedding sizes."""


def embedding_size(n: int) -> int:
    """Embedding width for `n` categories: `min(600, round(1.6 * n**0.56))` (fastai's rule).

    >>> embedding_size(944), embedding_size(1665)
    (74, 102)
    """
    if n < 1:
        raise ValueError(f"embedding_size needs at least one category, got {n}")
    return min(600, round(1.6 * n**0.56))
