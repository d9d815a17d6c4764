"""Ratings stored after training (the service's feedback) joined to a split's training side, so
a retrain keeps every rating users gave between model versions.

The store keeps ids as text; the data's may be integers. A stored id is first looked up in the
data's id map with the tolerance the service used when it stored it ('13' is the data's user
13), so a stored re-rating meets the row it re-rates: one row per (user, item) remains, the
store's (the newer). An id the data never had is a new user or item: an integer where the
data's ids are integers and the text is one, else text, and then every id of that side becomes
text ('13' and 'alice'), the same on both sides of the split, so no pair is told apart by type.
The validation side keeps its rows, less the pairs the store re-rated (their newer rating
trains), so a model retrained with feedback is validated on the same rows. Stored ratings
outside the data's scale (written by a service that took any number) are left out with a
note: they would widen the scale the model learns and accepts.

Interactions (plays, clicks) are events, not opinions: each stored one adds its weight to the
pair's weight in the data (a validation pair moves to training with it), as the loader sums a
log's repeated rows, so a 501st play never turns 500 plays into 1.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
import pandas as pd

from embedrec.data.files import Where
from embedrec.data.ratings import IdMap
from embedrec.data.splits import Split, union_map
from embedrec.data.validate import ratings_from_frame
from embedrec.errors import DataError

FEEDBACK_COLUMNS = ("user", "item", "rating")


def with_feedback(split: Split, feedback: pd.DataFrame) -> Split:
    """`split` with `feedback` (columns user, item, rating and optionally timestamp and row,
    the store's row id that errors name; ids as text or as in the data; every stored row, in
    the order stored) added to its training side. The latest stored rating of a pair counts,
    and replaces the data's (in training; a validation row of that pair leaves the validation
    side); on interactions, every stored weight adds to the data's.

    >>> store = FeedbackStore("sqlite:///models/ml-100k.feedback.db")  # doctest: +SKIP
    >>> split = with_feedback(split, store.all_ratings())               # doctest: +SKIP
    """
    if not len(feedback):  # said, so an empty store is not mistaken for one that was read
        none = "the feedback database holds no stored ratings: trained on the data alone"
        return Split(
            replace(split.train, notes=[*split.train.notes, none]), split.valid, split.name
        )
    train, valid = split.train, split.valid
    feedback = feedback.reset_index(drop=True)  # its labels: each row's place, for errors
    if not train.interactions:  # a rating given again replaces the first (as the text says)
        feedback = feedback.drop_duplicates(["user", "item"], keep="last")
    columns = list(FEEDBACK_COLUMNS)
    if train.timestamps is not None and "timestamp" in feedback:
        columns.append("timestamp")
    extra = feedback[columns].copy()
    _check_stored_ids(feedback)
    extra["rating"] = _stored_numbers(feedback, "rating")
    if "timestamp" in columns:
        extra["timestamp"] = _stored_numbers(feedback, "timestamp").astype(np.int64)
    if train.interactions:  # a weight has no scale: any count above 0 is an interaction
        low, high = float(np.nextafter(0.0, 1.0)), np.inf
    else:
        low, high = train.rating_scale or train.observed_range
    outside = ~extra["rating"].between(low, high)
    extra = extra[~outside]
    sides = {"train": train.to_frame(titles=False)[columns]}
    sides["valid"] = valid.to_frame(titles=False).reindex(columns=columns)
    for side, id_map in (("user", train.user_map), ("item", train.item_map)):
        stored = _as_data_ids(extra[side], id_map)
        if stored.dtype == object and id_map.ids.dtype != object:  # 'alice' beside 13
            stored = stored.astype(str)
            for name, frame in sides.items():
                sides[name] = frame.assign(**{side: frame[side].astype(str)})
        extra[side] = stored.to_numpy()
    fed = pd.MultiIndex.from_frame(extra[["user", "item"]])
    refed = pd.MultiIndex.from_frame(sides["valid"][["user", "item"]]).isin(fed)
    validated = sides["valid"][~refed]
    if train.interactions:  # events add to the pair's weight, wherever the data holds it
        moved = sides["valid"][refed]
        trained = _summed(pd.concat([sides["train"], moved, extra], ignore_index=True))
        added = f"{len(extra):,} stored interactions added to the training data's weights"
    else:  # a rating given again replaces the first
        trained = pd.concat([sides["train"], extra], ignore_index=True)
        trained = trained.drop_duplicates(["user", "item"], keep="last")
        added = f"{len(extra):,} stored ratings added to the training data"
    read = partial(
        ratings_from_frame,
        user_col="user",
        item_col="item",
        rating_col=None if train.interactions else "rating",
        weight_col="rating" if train.interactions else None,
        timestamp_col="timestamp" if "timestamp" in columns else None,
        rating_scale=train.rating_scale,
        where=Where(f"{train.source} + {len(feedback):,} stored ratings"),
    )
    # each side read alone, then both given the ids of either (as `paired_split` does): a split
    # made as two files may hold a pair on both sides, which one table would merge
    learned = read(trained)
    checked = read(validated) if len(validated) else learned.subset(np.zeros(0, dtype=np.int64))
    users = union_map(learned.user_map, checked.user_map)
    items = union_map(learned.item_map, checked.item_map)
    titles = _aligned(train.titles, train.item_map, items)
    genres = _aligned(train.genres, train.item_map, items)
    notes = [added]
    if outside.any():
        notes.append(
            f"{int(outside.sum()):,} stored ratings outside the scale {low:g}-{high:g} left out"
            if not train.interactions
            else f"{int(outside.sum()):,} stored weights of 0 or less left out (no interaction)"
        )
    joined = [
        replace(side.with_maps(users, items, titles)[0], genres=genres, notes=notes)
        for side in (learned, checked)
    ]
    return Split(joined[0], joined[1], f"{split.name}+feedback")


def _summed(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, item), in order of first appearance: the weights summed, the latest
    timestamp kept (as the loader merges a log's repeated plays)."""
    how = {"rating": "sum", **({"timestamp": "max"} if "timestamp" in rows else {})}
    return rows.groupby(["user", "item"], sort=False, as_index=False).agg(how)


# what a stored value must be, by column: (what it is called, the largest magnitude it may
# have); a time is seconds since 1970 that int64 holds
STORED_NUMBERS = {"rating": ("rating", np.inf), "timestamp": ("time (created)", 2.0**62)}


def _stored_numbers(feedback: pd.DataFrame, column: str) -> np.ndarray:
    """A column of stored numbers as floats; a DataError naming the stored rating of one that
    is not (SQLite keeps text in a REAL column)."""
    what, largest = STORED_NUMBERS[column]
    values = pd.to_numeric(feedback[column], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    bad = np.flatnonzero(~(np.abs(values) < largest))  # NaN and inf too
    if len(bad):
        shown = feedback[column].iloc[bad[0]]
        raise DataError(
            f"{_stored_place(feedback, int(bad[0]))}: its {what} is {shown!r}, not a number "
            f"({len(bad):,} such); correct or delete it in the database"
        )
    return values


def _check_stored_ids(feedback: pd.DataFrame) -> None:
    """Every stored rating names a user and an item (a store written by hand may not)."""
    for side in ("user", "item"):
        ids = feedback[side]
        empty = (ids.isna() | ids.astype(str).str.strip().eq("")).to_numpy()
        if empty.any():
            raise DataError(
                f"{_stored_place(feedback, int(np.flatnonzero(empty)[0]))}: its {side} id is "
                f"empty ({int(empty.sum()):,} such); correct or delete it in the database"
            )


def _stored_place(feedback: pd.DataFrame, position: int) -> str:
    """A stored rating as its owner finds it: the database's row id (when the feedback came
    from `FeedbackStore.all_ratings`), its user and its item."""
    stored = feedback.iloc[position]
    place = feedback.index[position]  # in the frame given, before a re-rated pair's older rows went
    row = f"row {stored['row']}" if "row" in feedback else f"stored rating {place}"
    return f"feedback database {row} (user {stored['user']!r}, item {stored['item']!r})"


def _as_data_ids(ids: pd.Series, id_map: IdMap) -> pd.Series:
    """Stored ids (text) as the data's (`IdMap.canonical`, the rule the service keys them by):
    the data's own id where the map knows it ('13' is 13), a new integer where the data's ids
    are integers and the text is one however written ('14' and '14.0' are one new user 14),
    else the text. The result has the map's dtype unless some id stayed text."""
    integers = np.issubdtype(id_map.ids.dtype, np.integer)
    values: list[object] = []
    for text in ids.astype(str).tolist():
        value = id_map.canonical(text)
        values.append(value if isinstance(value, int) and integers else str(value))
    if integers and all(isinstance(value, int) for value in values):
        return pd.Series(values, index=ids.index, dtype=np.int64)
    return pd.Series(values, index=ids.index, dtype=object)


def _aligned(values: np.ndarray | None, old: IdMap, new: IdMap) -> np.ndarray | None:
    """Per-item values (titles, genres) moved from `old`'s order to `new`'s ('' for new items)."""
    if values is None:
        return None
    aligned = np.full(len(new), "", dtype=object)
    aligned[new.indexer(old.ids)] = values
    return aligned
