"""`Recommender`: the one object a user holds after training (or loading) a model.

It is a `TrainedModel` (the model kind, its bias baseline for cold pairs, training counts and
rating scale, scored by index) spoken to by raw ids and titles, with how it was trained: lists
and predictions as frames, new users folded in, what the model learned, its files. Evaluation,
interpretation tables and plots are functions of a Recommender in their own modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from embedrec import io, lists, model_read
from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.data.titles import ItemNames
from embedrec.data.user_input import pairs_frame
from embedrec.errors import AmbiguousNameError, DataError, ModelError, UnknownIdError
from embedrec.notebook import html_table
from embedrec.recommender_state import from_state, to_state
from embedrec.scoring import Folded, check_n, checked_ratings
from embedrec.trained import TrainedModel
from embedrec.training.progress import EpochStats

if TYPE_CHECKING:
    from torch import nn

AMBIGUOUS = -2  # an item index meaning "a title several items share" (predict's error column)


@dataclass(frozen=True)
class Recommender(TrainedModel):
    """Built complete by the code that trains or loads it, and never changed after: a run
    that swaps a part (validation scoring a candidate model, a CLI recording the split)
    makes a new one with `dataclasses.replace`, so the caches below cannot go stale. The
    model, its baseline, counts and scale are `TrainedModel`'s fields, scored by index."""

    titles: np.ndarray | None = None
    genres: np.ndarray | None = None  # per item, "Action|Comedy" ("" where unknown)
    # how the training data was split (name, seed, spec), so evaluate scores the held-out rows
    split: dict[str, Any] | None = None
    config: TrainConfig = field(default_factory=TrainConfig)
    history: list[EpochStats] = field(default_factory=list)
    engine: str = "torch"  # which engine trained it (recorded in the model directory)
    # how the default was chosen on carved validation: one dict per candidate tried
    # (`embedrec.selection.Trial`), None where the user named the model
    selection: list[dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return (
            f"Recommender({self.model_name}, {len(self.user_map):,} users, "
            f"{len(self.item_map):,} items)"
        )

    def _repr_html_(self) -> str:
        """A notebook's view: the model, its data and how it trained."""
        rows: list[tuple[str, Any]] = [
            ("model", self.model_name),
            ("users", f"{self.n_users:,}"),
            ("items", f"{self.n_items:,}"),
            ("engine", self.engine),
        ]
        if self.history:
            last = self.history[-1]
            rows.append(("epochs", len(self.history)))
            metric = f"valid_{last.metric}" if last.metric else "valid_rmse"  # as the table
            score = last.valid_metric if last.metric else last.valid_rmse
            rows += [
                (name, f"{value:.6f}")
                for name, value in (("valid_loss", last.valid_loss), (metric, score))
                if value is not None
            ]
        return html_table(rows, caption="Recommender")

    # ---- ids ---------------------------------------------------------------------------
    @cached_property
    def item_names(self) -> ItemNames:
        """Titles resolved to indices (an index built once, on first use)."""
        return ItemNames(self.item_map, self.titles)

    def item_index(self, item: Any) -> int:
        """The index of an item named by raw id or (forgivingly) by title."""
        return self.item_names.resolve(item)

    def encode(self, ratings: Ratings) -> tuple[Ratings, int]:
        """`ratings` re-encoded with this model's id maps; rows with an id the model never saw
        are dropped and counted (returned second)."""
        encoded, unknown = ratings.with_maps(self.user_map, self.item_map, self.titles)
        if encoded.rating_scale is None:
            encoded.rating_scale = self.rating_scale
        return encoded, unknown

    # ---- rating predictions --------------------------------------------------------------
    def predict(self, pairs: pd.DataFrame | Iterable[tuple[Any, Any]]) -> pd.DataFrame:
        """Scores for (user, item) pairs: users by raw id, items by raw id or title (matched
        as `recommend` matches them); unknown ids and titles, and a title naming several
        items, are reported in the `error` column, not raised.

        >>> rec.predict([(196, "Star Wars"), (196, 50)])  # doctest: +SKIP
        """
        self.check_predicts()
        frame = pairs_frame(pairs)
        users = np.array([self.user_map.lookup(u) for u in frame["user"]], dtype=np.int64)
        items = np.array([self._item_or_title(i) for i in frame["item"]], dtype=np.int64)
        ok = (users >= 0) & (items >= 0)
        scores = np.full(len(frame), np.nan, dtype=np.float32)
        if ok.any():
            scores[ok] = self.predict_indices(users[ok], items[ok])
        item_errors = np.where(items == AMBIGUOUS, "ambiguous title", "unknown item")
        errors = np.where(users < 0, "unknown user", np.where(items < 0, item_errors, ""))
        return pd.DataFrame(
            {
                "user": frame["user"].to_numpy(),
                "item": frame["item"].to_numpy(),
                "score": scores,
                "error": errors,
            }
        )

    def _item_or_title(self, item: Any) -> int:
        """An item's index by raw id, else by title; -1 unknown, `AMBIGUOUS` for a title
        several items share."""
        index = self.item_map.lookup(item)
        if index >= 0 or self.titles is None:
            return index
        try:
            return self.item_names.resolve(item)
        except AmbiguousNameError:
            return AMBIGUOUS
        except UnknownIdError:
            return -1

    # ---- ranking ---------------------------------------------------------------------------
    def recommend(
        self,
        user: Any = None,
        n: int = 10,
        *,
        ratings: Mapping[Any, float] | None = None,
        liked: Iterable[Any] | None = None,
        exclude_seen: bool = True,
        items: Iterable[Any] | None = None,
        exclude: Iterable[Any] | None = None,
        batch_users: int = 1024,
    ) -> pd.DataFrame:
        """The top-n items, best first, as a frame with columns item, title, score.

        - `user`: a raw id from training; a list of ids gives every user's list in one frame
          (columns user, rank, item, title, score), scored in batches;
        - `ratings={item id or title: rating}` instead: a new user, folded in without
          retraining; with no usable rating the list is what typical users rate highest (on
          interactions: the most popular items) and flagged in a `fallback` column;
        - `liked=[item id or title, ...]` instead, for a model trained on interactions: a new
          user from the items they chose, each weighing 1 (`ratings={item: count}` gives
          counts instead);
        - `exclude_seen`: leave out what the user rated (in training, or in `ratings`/`liked`);
        - `items`: only these candidates (raw ids or titles); `exclude`: never these.

        >>> rec.recommend(liked=["Radiohead", "Portishead"], n=5)  # doctest: +SKIP
        """
        check_n(n)
        wanted = None if items is None else self.item_indices(items)
        excluded = None if exclude is None else self.item_indices(exclude)
        allowed = lists.candidates(self.n_items, wanted, excluded)
        if liked is not None:
            if ratings is not None:
                raise ModelError("recommend takes ratings= or liked=, not both")
            ratings = self.liked_weights(liked)
        if ratings is not None:
            if user is not None:
                raise ModelError("recommend takes a user or a new user's items, not both")
            return self._recommend_new(ratings, n, exclude_seen, allowed)
        if user is None:
            raise ModelError(
                "recommend needs a user id (or, for a new user, ratings= or, on a model "
                "trained on interactions, liked=)"
            )
        if isinstance(user, (list, tuple, np.ndarray, pd.Series, pd.Index)):
            return self._recommend_batch(list(user), n, exclude_seen, allowed, batch_users)
        index = self.user_index(user)
        if self.user_counts[index] == 0:
            return self._fallback(n, allowed)
        return self._recommend_batch([user], n, exclude_seen, allowed, 1, one_user=True)

    def _recommend_batch(
        self,
        users: list[Any],
        n: int,
        exclude_seen: bool,
        allowed: np.ndarray | None,
        batch_users: int,
        one_user: bool = False,
    ) -> pd.DataFrame:
        """Every user's list in one frame (columns user, rank, item, title, score); with
        `one_user`, the one user's list without the user and rank columns."""
        indices = self.user_indices(users)
        cold_users = self.user_counts[indices] == 0  # ranked as `recommend(user)` ranks them
        frames = []
        buffer = np.empty((min(batch_users, len(indices)), self.n_items), dtype=np.float32)
        for start in range(0, len(indices), batch_users):
            chunk = indices[start : start + batch_users]
            scores, predicted = self._scores(chunk, buffer[: len(chunk)])
            cold = cold_users[start : start + len(chunk)]
            fallback = self._fallback_scores() if cold.any() else None
            seen = (
                lists.seen_pairs(self.seen_indptr, self.seen_items, chunk) if exclude_seen else None
            )
            lists.mask_block(scores, cold, fallback, seen, allowed)
            top = lists.top_rows(scores, n)
            rating = None if predicted is None else predicted[top.row_of, top.items]
            lead = {}
            if not one_user:
                lead["user"] = np.asarray(users, dtype=object)[start + top.row_of]
                lead["rank"] = top.rank
            frame = self._item_frame(top.items, top.scores, rating, lead)
            if cold_users.any():
                frame["fallback"] = np.where(cold[top.row_of], self.fallback, "")
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=lists.LIST_COLUMNS)
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def liked_weights(self, liked: Iterable[Any]) -> dict[Any, float]:
        """A new user's chosen items (ids or titles) as {item: 1.0}, what `fold_in` takes; only
        for a model trained on interactions (a rating model needs to know how much they liked
        each)."""
        if not self.interactions:
            raise ModelError(
                f"liked= (a list of items, --liked) folds a new user into a model trained on "
                f"interactions; this {self.model_name} model learned from ratings: give the "
                "new user's ratings instead (ratings={item: rating}, --ratings)"
            )
        if isinstance(liked, (str, bytes, Mapping)) or not isinstance(liked, Iterable):
            raise DataError(f"liked is a list of item ids or titles, got {liked!r}")
        return {item: 1.0 for item in liked}

    def fold_in(self, ratings: Mapping[Any, float], reg: float | None = None) -> Folded | None:
        """A new user as the models see them, from {item id or title: rating}; None when no
        rated item has training ratings (nothing to go on). Score it with `score_folded`."""
        items, values = self._usable_ratings(ratings)
        if len(items) == 0:
            return None
        return Folded(items, self.model.fold_in(items, values, reg))

    def _usable_ratings(self, ratings: Mapping[Any, float]) -> tuple[np.ndarray, np.ndarray]:
        """The rated items with training ratings (others carry no signal) and their ratings,
        checked: numbers inside the model's rating scale."""
        # interaction weights (counts) have no scale, only a floor
        scale = (0.0, np.inf) if self.interactions else self.rating_scale or self.observed_scale
        items, values = checked_ratings(ratings, self.item_index, scale)
        trained = self.item_counts[items] > 0
        return items[trained], values[trained]

    def _recommend_new(
        self,
        ratings: Mapping[Any, float],
        n: int,
        exclude_seen: bool,
        allowed: np.ndarray | None,
    ) -> pd.DataFrame:
        folded = self.fold_in(ratings)
        if folded is None:
            return self._fallback(n, allowed)
        scores, rating = self._folded_scores(folded)
        if exclude_seen:
            scores[folded.items] = -np.inf
        return self._top(scores, n, allowed, rating)

    def predict_new(self, ratings: Mapping[Any, float], items: Iterable[Any]) -> np.ndarray:
        """Predicted ratings of `items` for a new user folded in from `ratings`."""
        wanted = np.array([self.item_index(i) for i in items], dtype=np.int64)
        self.check_predicts()
        folded = self.fold_in(ratings)
        if folded is None:
            return self.baseline.global_mean + self.baseline.item_offsets[wanted]
        return self._folded_rating(folded)[wanted]

    def item_indices(self, items: Iterable[Any]) -> np.ndarray:
        """Indices of many items (raw ids, vectorised; titles one by one) at once."""
        wanted = list(items)
        indices = self.item_map.indexer(wanted) if wanted else np.zeros(0, dtype=np.int64)
        for position in np.flatnonzero(indices < 0):
            indices[position] = self.item_index(wanted[position])
        return indices

    def _top(
        self,
        scores: np.ndarray,
        n: int,
        allowed: np.ndarray | None,
        rating: np.ndarray | None = None,
    ) -> pd.DataFrame:
        top, top_scores = lists.top_items(scores, n, allowed)
        return self._item_frame(top, top_scores, None if rating is None else rating[top])

    def _fallback(self, n: int, allowed: np.ndarray | None) -> pd.DataFrame:
        frame = self._top(self._fallback_scores(), n, allowed)
        frame["fallback"] = self.fallback
        return frame

    def _item_frame(
        self,
        indices: np.ndarray,
        scores: np.ndarray,
        rating: np.ndarray | None = None,
        lead: dict[str, np.ndarray] | None = None,
    ) -> pd.DataFrame:
        return lists.item_frame(self.item_map, self.titles, indices, scores, rating, lead)

    # ---- what the model learned -----------------------------------------------------------
    def _indices(self, names: Iterable[Any] | None, is_item: bool) -> np.ndarray:
        if names is None:
            return np.arange(self.n_items if is_item else self.n_users)
        if isinstance(names, (str, bytes, int, np.integer)):
            raise DataError("give a list of ids or titles (or None for all)")
        lookup = self.item_index if is_item else self.user_index
        return np.array([lookup(name) for name in names], dtype=np.int64)

    def bias(self, items: Iterable[Any] | None = None, is_item: bool = True) -> np.ndarray:
        """Learned biases of these items (ids or titles; None: all), or users with
        `is_item=False`, as fastai's `learn.model.bias(items)`."""
        return self._learned("biases", items, is_item)

    def weight(self, items: Iterable[Any] | None = None, is_item: bool = True) -> np.ndarray:
        """Learned factors of these items (ids or titles; None: all), or users with
        `is_item=False`, as fastai's `learn.model.weight(items)`."""
        return self._learned("factors", items, is_item)

    def _learned(self, table: str, names: Iterable[Any] | None, is_item: bool) -> np.ndarray:
        side, _, _ = self._side(is_item)
        biases = table == "biases"
        values = self.model.biases(side) if biases else self.model.factors(side)
        if values is None:
            hint = self.model.missing_hint(f"{side}_bias" if biases else f"{side}_factors")
            raise ModelError(f"a {self.model_name} model has no learned {table}; {hint}")
        return values[self._indices(names, is_item)]

    def similar_items(self, item: Any, n: int = 10, min_ratings: int | None = None) -> pd.DataFrame:
        """The n items most similar to `item` (id or title) by what the model learned (cosine
        of the factors), among items with at least `min_ratings` training ratings (None:
        `MIN_RATINGS`, lowered with a warning where fewer than n items reach it)."""
        return self._neighbours(self.item_index(item), True, n, min_ratings)

    def similar_users(self, user: Any, n: int = 10, min_ratings: int | None = None) -> pd.DataFrame:
        return self._neighbours(self.user_index(user), False, n, min_ratings)

    def _neighbours(
        self, index: int, is_item: bool, n: int, min_ratings: int | None
    ) -> pd.DataFrame:
        check_n(n)
        side, id_map, counts = self._side(is_item)
        similarity = self.model.similarity(side, index).astype(np.float64)
        order = lists.nearest_listed(similarity, counts, index, n, min_ratings, side)
        frame = self.describe(order, is_item)
        frame.insert(len(frame.columns) - 1, "score", similarity[order])
        return frame

    def describe(self, indices: np.ndarray, is_item: bool = True) -> pd.DataFrame:
        """Ids (titles for items) and training rating counts of these indices, as a frame."""
        side, id_map, counts = self._side(is_item)
        frame = pd.DataFrame({side: id_map.decode(indices)})
        if is_item and self.titles is not None:
            frame["title"] = self.titles[indices]
        frame["n_ratings"] = counts[indices]
        return frame

    # ---- files -------------------------------------------------------------------------
    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write the model directory (safetensors + JSON) atomically; an existing one is
        replaced only with `force=True`, and never a directory that is not a model."""
        documents, arrays = to_state(self)
        return io.write_model_dir(path, documents, arrays, force=force)

    @classmethod
    def load(
        cls, path: str | Path, network: nn.Module | None = None, arrays_only: bool = False
    ) -> Recommender:
        """A Recommender from a model directory written by `save`; a model trained from your
        own module loads into the instance you pass as `network`. `arrays_only=True` loads to
        score only, as `embedrec serve` does: the weights memory-mapped, and the kinds whose
        scoring is arrays (dot, dot-bias, bmf, ease, ials, bias, popular) held as numpy arrays,
        without torch; nn, bpr and custom modules load as trained."""
        documents, arrays = model_read.read_model_dir(path, mapped=arrays_only)
        return cls(**from_state(documents, arrays, Path(path), network, arrays_only))


load = Recommender.load  # `embedrec.load(path)`
