"""What a trained model has learned, in the chapter's terms: biases, factors, neighbours by
cosine similarity, and a PCA map of item factors. Functions of a `Recommender`; the Recommender's
methods of the same names call these."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from embedrec.errors import ModelError
from embedrec.models import DotProductBias

if TYPE_CHECKING:
    from embedrec.recommender import Recommender

# Items or users with fewer training ratings than this are left out of neighbour lists and the
# PCA map: their factors are mostly initialisation noise shrunk by weight decay (fastai's naive
# neighbours of "Silence of the Lambs" start with films rated once or twice).
MIN_RATINGS = 20


def _side(rec: Recommender, which: str):
    if which == "item":
        return rec.model.item_factors, rec.item_map, rec.item_counts
    if which == "user":
        return rec.model.user_factors, rec.user_map, rec.user_counts
    raise ValueError(f"which must be 'item' or 'user', got {which!r}")


def _frame(rec: Recommender, which: str, indices: np.ndarray) -> pd.DataFrame:
    _, id_map, counts = _side(rec, which)
    frame = pd.DataFrame({which: id_map.decode(indices)})
    if which == "item" and rec.titles is not None:
        frame["title"] = rec.titles[indices]
    frame["n_ratings"] = counts[indices]
    return frame


def bias_table(rec: Recommender, which: str = "item") -> pd.DataFrame:
    """Learned biases of every trained item (or user), highest first."""
    if not isinstance(rec.model, DotProductBias):
        raise ModelError(
            f"a {rec.model_name} model has no learned biases; train --model dot-bias to get them"
        )
    layer = rec.model.item_bias if which == "item" else rec.model.user_bias
    _, _, counts = _side(rec, which)
    trained = np.flatnonzero(counts > 0)
    bias = layer.weight.detach().cpu().numpy()[trained, 0]
    frame = _frame(rec, which, trained)
    frame.insert(len(frame.columns) - 1, "bias", bias)
    return frame.sort_values("bias", ascending=False, kind="stable").reset_index(drop=True)


def factor_frame(rec: Recommender, which: str = "item") -> pd.DataFrame:
    """All learned factors, one row per item (or user), columns f0..f{k-1}."""
    layer, id_map, _ = _side(rec, which)
    weights = layer.weight.detach().cpu().numpy()
    frame = _frame(rec, which, np.arange(len(id_map)))
    factors = pd.DataFrame(weights, columns=[f"f{i}" for i in range(weights.shape[1])])
    return pd.concat([frame, factors], axis=1)


def neighbours(rec: Recommender, which: str, index: int, n: int, min_ratings: int) -> pd.DataFrame:
    """The n most cosine-similar items (users) to `index` among those with enough ratings."""
    layer, _, counts = _side(rec, which)
    weights = layer.weight.detach().cpu()
    similarity = torch.nn.functional.cosine_similarity(weights, weights[index][None], dim=1)
    similarity = similarity.numpy().astype(np.float64)
    eligible = counts >= min_ratings
    eligible[index] = False
    similarity[~eligible] = -np.inf
    order = np.argsort(-similarity, kind="stable")[: min(n, int(eligible.sum()))]
    frame = _frame(rec, which, order)
    frame.insert(len(frame.columns) - 1, "score", similarity[order])
    return frame


def pca_coordinates(
    rec: Recommender, n_items: int = 50, components: tuple[int, int] = (0, 1), pool: int = 1000
) -> pd.DataFrame:
    """Item factors projected on principal components: the axes are fitted on the `pool` most
    rated items (as the chapter does with 1,000), the `n_items` most rated are returned."""
    weights = rec.model.item_factors.weight.detach().cpu().numpy().astype(np.float64)
    most_rated = np.argsort(-rec.item_counts, kind="stable")
    fit_on = most_rated[:pool]
    centred = weights[fit_on] - weights[fit_on].mean(0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    if max(components) >= len(axes):
        raise ModelError(f"the model has only {len(axes)} principal components")
    shown = most_rated[:n_items]
    coords = (weights[shown] - weights[fit_on].mean(0)) @ axes[list(components)].T
    frame = _frame(rec, "item", shown)
    frame[f"pc{components[0] + 1}"] = coords[:, 0]
    frame[f"pc{components[1] + 1}"] = coords[:, 1]
    return frame
