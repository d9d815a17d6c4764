"""`Recommender`: the one object a user holds after training (or loading) a model.

It joins the pure model with what gives it meaning: the id maps and titles, the rating scale,
how often each user and item was seen in training, and the bias baseline that scores pairs the
embeddings cannot (a user or item with no training rating).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from embedrec.data.ratings import IdMap, Ratings
from embedrec.data.titles import ItemNames
from embedrec.errors import DataError
from embedrec.evaluation.metrics import mae, mse, rmse
from embedrec.evaluation.ranking import top_k
from embedrec.interpret import MIN_RATINGS, bias_table, factor_frame, neighbours, pca_coordinates
from embedrec.models import DotProductBias, model_name
from embedrec.models.baseline import BiasBaseline
from embedrec.models.foldin import fold_in
from embedrec.plots import pca_map_plot
from embedrec.training.config import TrainConfig
from embedrec.training.progress import EpochStats
from embedrec.training.torch_engine import predict_torch


@dataclass
class Recommender:
    model: nn.Module
    user_map: IdMap
    item_map: IdMap
    baseline: BiasBaseline
    user_counts: np.ndarray  # training ratings per user index
    item_counts: np.ndarray
    titles: np.ndarray | None = None
    rating_scale: tuple[float, float] | None = None
    config: TrainConfig = field(default_factory=TrainConfig)
    history: list[EpochStats] = field(default_factory=list)
    # each user's training items, CSR: user u rated seen_items[seen_indptr[u]:seen_indptr[u+1]]
    seen_indptr: np.ndarray | None = None
    seen_items: np.ndarray | None = None
    engine: str = "torch"  # which engine trained it (the model files are the same either way)

    def __repr__(self) -> str:
        return (
            f"Recommender({self.model_name}, {len(self.user_map):,} users, "
            f"{len(self.item_map):,} items)"
        )

    @property
    def model_name(self) -> str:
        """The kind of model trained: `bmf` is stored as its posterior mean, a dot-bias network,
        and is still called bmf here; the stored network's own name is `models.model_name`."""
        stored = model_name(self.model)
        return "bmf" if stored == "dot-bias" and self.config.model == "bmf" else stored

    # ---- scoring on indices -------------------------------------------------------------
    def predict_indices(
        self, users: np.ndarray, items: np.ndarray, clip: bool = True
    ) -> np.ndarray:
        """Predicted ratings for index pairs: the model where both sides were trained, the bias
        baseline elsewhere; clipped to the declared rating scale unless `clip=False`."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        warm = (self.user_counts[users] > 0) & (self.item_counts[items] > 0)
        scores = self.baseline.predict(users, items)
        if warm.any():
            scores[warm] = predict_torch(self.model, users[warm], items[warm])
        if clip and self.rating_scale is not None:
            np.clip(scores, *self.rating_scale, out=scores)
        return scores

    def evaluate(self, ratings: Ratings) -> dict:
        """RMSE and MAE (clipped predictions), the unclipped MSE loss, and how many rows were
        scored by the baseline because their user or item is cold."""
        self._check_maps(ratings)
        raw = self.predict_indices(ratings.users, ratings.items, clip=False)
        clipped = raw if self.rating_scale is None else np.clip(raw, *self.rating_scale)
        cold = (self.user_counts[ratings.users] == 0) | (self.item_counts[ratings.items] == 0)
        return {
            "rmse": rmse(clipped, ratings.ratings),
            "mae": mae(clipped, ratings.ratings),
            "loss": mse(raw, ratings.ratings),
            "n": len(ratings),
            "n_cold": int(cold.sum()),
        }

    def _check_maps(self, ratings: Ratings) -> None:
        if ratings.user_map is not self.user_map and ratings.user_map != self.user_map:
            raise DataError(
                "these ratings were encoded with other user ids than the model's; "
                "use Recommender.encode(ratings) first"
            )
        if ratings.item_map is not self.item_map and ratings.item_map != self.item_map:
            raise DataError(
                "these ratings were encoded with other item ids than the model's; "
                "use Recommender.encode(ratings) first"
            )

    def encode(self, ratings: Ratings) -> tuple[Ratings, int]:
        """`ratings` re-encoded with this model's id maps; rows with an id the model never saw
        are dropped and counted (returned second)."""
        users = self.user_map.indexer(ratings.user_map.decode(ratings.users))
        items = self.item_map.indexer(ratings.item_map.decode(ratings.items))
        known = (users >= 0) & (items >= 0)
        encoded = Ratings(
            users=users[known],
            items=items[known],
            ratings=ratings.ratings[known],
            user_map=self.user_map,
            item_map=self.item_map,
            timestamps=None if ratings.timestamps is None else ratings.timestamps[known],
            titles=self.titles,
            rating_scale=ratings.rating_scale or self.rating_scale,
            source=ratings.source,
        )
        return encoded, int((~known).sum())

    # ---- raw ids -----------------------------------------------------------------------
    def predict(self, pairs: pd.DataFrame | list[tuple]) -> pd.DataFrame:
        """Scores for (user, item) pairs given as raw ids; unknown ids are reported in the
        `error` column, not raised."""
        frame = (
            pairs
            if isinstance(pairs, pd.DataFrame)
            else pd.DataFrame(list(pairs), columns=["user", "item"])
        )
        users = np.array([self.user_map.lookup(u) for u in frame["user"]], dtype=np.int64)
        items = np.array([self.item_map.lookup(i) for i in frame["item"]], dtype=np.int64)
        ok = (users >= 0) & (items >= 0)
        scores = np.full(len(frame), np.nan, dtype=np.float32)
        if ok.any():
            scores[ok] = self.predict_indices(users[ok], items[ok])
        errors = np.where(users < 0, "unknown user", np.where(items < 0, "unknown item", ""))
        return pd.DataFrame(
            {
                "user": frame["user"].to_numpy(),
                "item": frame["item"].to_numpy(),
                "score": scores,
                "error": errors,
            }
        )

    # ---- ranking -----------------------------------------------------------------------
    @torch.no_grad()
    def score_items(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for each user index, shape (users, items). Users with no
        training rating get the bias baseline; items with none get -inf (never recommended)."""
        users = np.asarray(users, dtype=np.int64)
        all_items = np.arange(len(self.item_map))
        scores = np.empty((len(users), len(all_items)), dtype=np.float32)
        warm = self.user_counts[users] > 0
        if warm.any():
            self.model.eval()
            device = next(self.model.parameters()).device
            vectors, biases = self.model.user_vectors(torch.as_tensor(users[warm], device=device))
            scores[warm] = self.model.score_user_vectors(vectors, biases).float().cpu().numpy()
        for row in np.flatnonzero(~warm):
            scores[row] = self.baseline.predict(np.full_like(all_items, users[row]), all_items)
        if self.rating_scale is not None:
            np.clip(scores, *self.rating_scale, out=scores)
        scores[:, self.item_counts == 0] = -np.inf
        return scores

    def seen(self, user_index: int) -> np.ndarray:
        if self.seen_indptr is None:
            return np.zeros(0, dtype=np.int64)
        return self.seen_items[self.seen_indptr[user_index] : self.seen_indptr[user_index + 1]]

    def recommend(
        self, user, n: int = 10, exclude_seen: bool = True, candidates=None
    ) -> pd.DataFrame:
        """The top-n items for a known user (raw id), best first: columns item, title, score.

        Items the user rated in training are left out unless `exclude_seen=False`; `candidates`
        (raw ids or titles) limits the choice. An unknown user gets the fallback ranking (see
        `recommend_for_ratings`), flagged in a `fallback` column.
        """
        index = self.user_map.lookup(user)
        if index < 0 or self.user_counts[index] == 0:
            return self._fallback(n, candidates)
        scores = self.score_items(np.array([index]))[0]
        if exclude_seen:
            scores[self.seen(index)] = -np.inf
        return self._top(scores, n, candidates)

    def recommend_many(self, users, n: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """`recommend` for many users at once: columns user, rank, item, title, score."""
        frames = []
        for user in users:
            frame = self.recommend(user, n, exclude_seen)
            frame.insert(0, "rank", np.arange(1, len(frame) + 1))
            frame.insert(0, "user", user)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def recommend_for_ratings(
        self, ratings: dict, n: int = 10, exclude_rated: bool = True, reg: float | None = None
    ) -> pd.DataFrame:
        """Recommendations for a new user from a few ratings ({item id or title: rating}),
        without retraining: the user is folded in (see `embedrec.models.foldin`).

        With no usable ratings, the fallback: items ranked by their learned bias (the bias
        baseline's item offsets for models without biases), flagged in a `fallback` column.
        """
        items, scores = self._fold_in_scores(ratings, reg)
        if items is None:
            return self._fallback(n, None)
        if exclude_rated:
            scores[items] = -np.inf
        return self._top(scores, n, None)

    def predict_for_ratings(self, ratings: dict, items, reg: float | None = None) -> np.ndarray:
        """Predicted ratings of `items` for a new user folded in from `ratings`."""
        names = self.item_names
        wanted = np.array([names.resolve(i) for i in items], dtype=np.int64)
        _, scores = self._fold_in_scores(ratings, reg)
        if scores is None:
            return self.baseline.global_mean + self.baseline.item_offsets[wanted]
        return scores[wanted]

    @torch.no_grad()
    def _fold_in_scores(self, ratings: dict, reg: float | None):
        names = self.item_names
        pairs = [(names.resolve(item), float(r)) for item, r in ratings.items()]
        pairs = [(i, r) for i, r in pairs if self.item_counts[i] > 0]  # untrained: no signal
        if not pairs:
            return None, None
        items = torch.tensor([i for i, _ in pairs])
        values = torch.tensor([r for _, r in pairs], dtype=torch.float32)
        self.model.cpu().eval()
        with torch.enable_grad():
            vector, bias = fold_in(self.model, items, values, reg=reg)
        scores = self.model.score_user_vectors(vector[None], None if bias is None else bias[None])
        scores = scores[0].numpy()
        if self.rating_scale is not None:
            scores = np.clip(scores, *self.rating_scale)
        scores[self.item_counts == 0] = -np.inf
        return items.numpy(), scores

    def _top(self, scores: np.ndarray, n: int, candidates) -> pd.DataFrame:
        if candidates is not None:
            allowed = np.zeros(len(scores), dtype=bool)
            allowed[[self.item_names.resolve(c) for c in candidates]] = True
            scores = np.where(allowed, scores, -np.inf)
        top = top_k(scores[None], n)[0]
        top = top[np.isfinite(scores[top])]
        return self._item_frame(top, scores[top])

    def _fallback(self, n: int, candidates) -> pd.DataFrame:
        if isinstance(self.model, DotProductBias):
            bias = self.model.item_bias.weight.detach().cpu().numpy()[:, 0].astype(np.float64)
        else:
            bias = self.baseline.item_offsets.astype(np.float64)
        bias = np.where(self.item_counts > 0, bias, -np.inf)
        frame = self._top(bias, n, candidates)
        frame["fallback"] = "item-bias"
        return frame

    def _item_frame(self, indices: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame({"item": self.item_map.decode(indices)})
        frame["title"] = self.titles[indices] if self.titles is not None else None
        frame["score"] = scores.astype(np.float64)
        return frame

    # ---- interpretation ----------------------------------------------------------------
    @property
    def item_names(self) -> ItemNames:
        if getattr(self, "_item_names", None) is None:
            self._item_names = ItemNames(self.item_map, self.titles)
        return self._item_names

    def item_index(self, item) -> int:
        """The index of an item named by raw id or (forgivingly) by title."""
        return self.item_names.resolve(item)

    def similar_items(self, item, n: int = 10, min_ratings: int = MIN_RATINGS) -> pd.DataFrame:
        """The n items whose factors are most cosine-similar to `item` (id or title), among
        items with at least `min_ratings` training ratings."""
        return neighbours(self, "item", self.item_index(item), n, min_ratings)

    def similar_users(self, user, n: int = 10, min_ratings: int = MIN_RATINGS) -> pd.DataFrame:
        index = self.user_map.lookup(user)
        if index < 0:
            raise DataError(f"unknown user {user!r}")
        return neighbours(self, "user", index, n, min_ratings)

    def item_bias(self) -> pd.DataFrame:
        """Learned item biases, highest first (the chapter's 'liked beyond their factors')."""
        return bias_table(self, "item")

    def user_bias(self) -> pd.DataFrame:
        return bias_table(self, "user")

    def item_factors(self) -> pd.DataFrame:
        return factor_frame(self, "item")

    def user_factors(self) -> pd.DataFrame:
        return factor_frame(self, "user")

    def pca_map(
        self,
        n_items: int = 50,
        components: tuple[int, int] = (0, 1),
        path: str | Path | None = None,
    ) -> pd.DataFrame:
        """Item factors of the `n_items` most rated items on two principal components; with
        `path`, also saved as a labelled scatter plot (PNG)."""
        coords = pca_coordinates(self, n_items, components)
        if path is not None:
            pca_map_plot(coords, path)
        return coords

    # ---- files -------------------------------------------------------------------------
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the model directory (safetensors + JSON), atomically."""
        from embedrec.io import save_recommender

        return save_recommender(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> Recommender:
        from embedrec.io import load_recommender

        return load_recommender(path, device=device)
