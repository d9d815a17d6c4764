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
from torch import nn

from embedrec.data.ratings import IdMap, Ratings
from embedrec.evaluation.metrics import mae, mse, rmse
from embedrec.models import model_name
from embedrec.models.baseline import BiasBaseline
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

    def __repr__(self) -> str:
        return (
            f"Recommender({model_name(self.model)}, {len(self.user_map):,} users, "
            f"{len(self.item_map):,} items)"
        )

    @property
    def model_name(self) -> str:
        return model_name(self.model)

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
        from embedrec.errors import DataError

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

    # ---- files -------------------------------------------------------------------------
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the model directory (safetensors + JSON), atomically."""
        from embedrec.io import save_recommender

        return save_recommender(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> Recommender:
        from embedrec.io import load_recommender

        return load_recommender(path, device=device)
