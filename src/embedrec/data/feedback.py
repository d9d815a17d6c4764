"""Ratings stored after training (the service's feedback) joined to a split's training side, so
a retrain keeps every rating users gave between model versions.

A stored rating replaces a training rating of the same user and item (it is the newer one); users
and items the data never had join the id maps. The validation side is kept as it was, re-encoded
with the wider maps, so a model retrained with feedback is validated on the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embedrec.data.files import Where
from embedrec.data.ratings import IdMap
from embedrec.data.splits import Split
from embedrec.data.validate import ratings_from_frame

FEEDBACK_COLUMNS = ("user", "item", "rating")


def with_feedback(split: Split, feedback: pd.DataFrame) -> Split:
    """`split` with `feedback` (columns user, item, rating and optionally timestamp; ids as
    text or as in the data) added to its training side. A validation row of a pair that has
    stored feedback leaves the validation side (the stored rating is the newer one, and trains).

    >>> store = FeedbackStore("sqlite:///models/ml-100k.feedback.db")  # doctest: +SKIP
    >>> split = with_feedback(split, store.all_ratings())               # doctest: +SKIP
    """
    if not len(feedback):
        return split
    train, valid = split.train, split.valid
    columns = list(FEEDBACK_COLUMNS)
    if train.timestamps is not None and "timestamp" in feedback:
        columns.append("timestamp")
    extra = feedback[columns].copy()
    extra["user"] = _like(extra["user"], train.user_map)
    extra["item"] = _like(extra["item"], train.item_map)
    trained = pd.concat([train.to_frame(titles=False)[columns], extra], ignore_index=True)
    trained = trained.drop_duplicates(["user", "item"], keep="last")
    validated = valid.to_frame(titles=False).reindex(columns=columns)
    fed = pd.MultiIndex.from_frame(extra[["user", "item"]])
    validated = validated[~pd.MultiIndex.from_frame(validated[["user", "item"]]).isin(fed)]
    joined = pd.concat([trained, validated], ignore_index=True)
    for side in ("user", "item"):
        if joined[side].dtype == object:  # text ids beside integer ones: all become text
            joined[side] = joined[side].astype(str)
    full = ratings_from_frame(
        joined,
        user_col="user",
        item_col="item",
        rating_col="rating",
        timestamp_col="timestamp" if "timestamp" in columns else None,
        rating_scale=train.rating_scale,
        where=Where(f"{train.source} + {len(feedback):,} stored ratings"),
    )
    full.titles = _aligned(train.titles, train.item_map, full.item_map)
    full.genres = _aligned(train.genres, train.item_map, full.item_map)
    full.notes = [f"{len(extra):,} stored ratings added to the training data"]
    is_train = np.arange(len(full)) < len(trained)  # no duplicates left: rows keep their order
    return Split(full.subset(is_train), full.subset(~is_train), f"{split.name}+feedback")


def _like(ids: pd.Series, id_map: IdMap) -> pd.Series:
    """Stored ids (text) as the data's type: integers where the data's ids are integers and
    every stored one is a whole number."""
    if np.issubdtype(id_map.ids.dtype, np.integer):
        numbers = pd.to_numeric(ids, errors="coerce")
        if numbers.notna().all() and (numbers == numbers.round()).all():
            return numbers.astype(np.int64)
    return ids.astype(str)


def _aligned(values: np.ndarray | None, old: IdMap, new: IdMap) -> np.ndarray | None:
    """Per-item values (titles, genres) moved from `old`'s order to `new`'s ('' for new items)."""
    if values is None:
        return None
    aligned = np.full(len(new), "", dtype=object)
    aligned[new.indexer(old.ids)] = values
    return aligned
