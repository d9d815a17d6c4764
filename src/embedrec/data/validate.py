"""Validated `Ratings` from a table: a file `read_table` read, or any pandas DataFrame.

`ratings_from_frame` picks the user, item, rating (and timestamp, title) columns, checks every
value and encodes the ids. Every problem becomes a `DataError` naming the file, the line and the
field, so a user never sees a pandas traceback or silently wrong numbers. Parsing files is
`embedrec.data.files`' job; this module imports it, never the reverse.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embedrec.data.columns import (
    indexed_ids_as_columns,
    pick_column,
    require_column,
    value_columns,
)
from embedrec.data.encode import duplicate_rows, encode_ids
from embedrec.data.files import (
    Table,
    Where,
    column_names,
    column_values,
    read_table,
    row_count,
)
from embedrec.data.layout import duplicated_name
from embedrec.data.ratings import IdMap, Ratings
from embedrec.data.weights import check_weights, merged_interactions, without_empty
from embedrec.errors import DataError
from embedrec.schemas import DuplicatesWarning

FLOAT32_MAX = float(np.finfo(np.float32).max)
LARGEST_RATING = math.sqrt(FLOAT32_MAX)  # 1.8e19: its square is still a float32


def ratings_from_frame(
    frame: Table | pd.Series,
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    timestamp_col: str | None = None,
    title_col: str | None = None,
    rating_scale: tuple[float, float] | None = None,
    where: Where | None = None,
    weight_col: str | None = None,
) -> Ratings:
    """Validate and encode a ratings table; columns are guessed when not named.

    Duplicate (user, item) rows keep the last one and are reported in `Ratings.notes` and by a
    `DuplicatesWarning` (once per table, whichever public loader reads it). A table
    without ratings (plays, clicks, purchases: a `weight_col` named or guessed, or id columns
    only) loads as interactions; `embedrec.data.weights` says how it is told and what is done
    with its weights.

    >>> df = pd.DataFrame({"userId": ["u1", "u2"], "movieId": [10, 20], "rating": [4.0, 3.5]})
    >>> ratings_from_frame(df).n_items
    2
    >>> ratings_from_frame(pd.DataFrame({"user": [1, 1], "item": [5, 6]})).interactions
    True
    """
    where = where or Where("DataFrame")
    if isinstance(frame, (pd.DataFrame, pd.Series)):
        frame = indexed_ids_as_columns(frame, user_col, item_col)
    if row_count(frame) == 0:
        raise DataError(f"{where.source}: no ratings (the table has no rows)")
    if isinstance(frame, pd.DataFrame):
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    columns = column_names(frame)
    if (twice := duplicated_name(columns)) is not None:
        raise DataError(f"{where.source}: the column name {twice!r} appears twice")
    named = {
        "user": user_col,
        "item": item_col,
        "rating": rating_col,
        "weight": weight_col,
        "timestamp": timestamp_col,
        "title": title_col,
    }
    user = require_column(columns, user_col, "user", where)
    item = require_column(columns, item_col, "item", where)
    timestamp = pick_column(columns, timestamp_col, "timestamp", where)
    title = pick_column(columns, title_col, "title", where)
    rating, weight = value_columns(frame, named, (user, item, timestamp, title), where)
    interactions = rating is None
    picked = {
        "user": user,
        "item": item,
        "rating": rating,
        "weight": weight,
        "timestamp": timestamp,
        "title": title,
    }
    guessed = [
        f"{role}={column}"
        for role, column in picked.items()
        if named[role] is None and column is not None and column != role
    ]
    notes: list[str] = list(where.notes)
    if guessed:
        notes.append(
            f"columns guessed: {', '.join(guessed)} (name them with --user-col, --item-col, ...)"
        )
    if interactions:
        notes.append(
            "no rating column: read as interactions (which items each user chose), "
            + (f"weighted by {weight!r}" if weight else "each row weighing 1")
            + "; ranking models learn from them"
        )
        if rating_scale is not None:
            raise DataError(
                f"{where.source}: a rating scale (--rating-scale) was given, but the table has "
                "no rating column, only interactions; name the rating column with --rating-col"
            )

    users = _ids(column_values(frame, user), user, where)
    items = _ids(column_values(frame, item), item, where)
    if rating is not None:
        ratings = _numbers(column_values(frame, rating), rating, where)
    elif weight is not None:
        ratings = _numbers(column_values(frame, weight), weight, where)
        check_weights(ratings, weight, where)
    else:
        ratings = np.ones(len(users), dtype=np.float32)
    if rating_scale is not None:
        low, high = check_scale(rating_scale)
        outside = np.flatnonzero((ratings < low) | (ratings > high))
        if len(outside):
            row = outside[0]
            raise DataError(
                f"{where.row(row)}: field {rating!r} is {ratings[row]:g}, outside the "
                f"declared rating range {low:g}..{high:g} ({len(outside)} such rows)"
            )
    timestamps = None
    if timestamp is not None:
        timestamps = _timestamps(column_values(frame, timestamp), timestamp, where)
    if interactions:
        keep, dropped = without_empty(ratings, where)
        notes += dropped
        if keep is not None:
            users, items, ratings = users[keep], items[keep], ratings[keep]
            timestamps = None if timestamps is None else timestamps[keep]

    user_map, user_codes = _encode(users)
    del users  # the raw ids go once coded (memory): the maps give any one of them back
    item_map, item_codes = _encode(items)
    del items
    if interactions:
        user_codes, item_codes, ratings, timestamps, merged = merged_interactions(
            user_codes, item_codes, ratings, timestamps, len(user_map), len(item_map)
        )
        notes += merged
        duplicated = np.zeros(0, dtype=bool)
    else:
        duplicated = duplicate_rows(user_codes, item_codes, len(user_map), len(item_map))
    if duplicated.any():
        first = int(np.flatnonzero(duplicated)[0])
        notes.append(
            f"{int(duplicated.sum())} duplicate (user, item) rows: kept the last of each "
            f"(first dropped: {where.row(first)}, user {plain(user_map.ids[user_codes[first]])!r}, "
            f"item {plain(item_map.ids[item_codes[first]])!r})"
        )
        warnings.warn(notes[-1], DuplicatesWarning, stacklevel=2)
        keep = ~duplicated
        user_codes, item_codes, ratings = user_codes[keep], item_codes[keep], ratings[keep]
        if timestamps is not None:
            timestamps = timestamps[keep]
        # a user or item whose only rows were dropped cannot exist: each pair keeps one row
    titles = None
    if title is not None:
        titles = titles_for(item_map, column_values(frame, item), column_values(frame, title))
    return Ratings(
        users=user_codes,
        items=item_codes,
        ratings=ratings,
        user_map=user_map,
        item_map=item_map,
        timestamps=timestamps,
        titles=titles,
        rating_scale=rating_scale,
        source=where.source,
        notes=notes,
        interactions=interactions,
    )


def check_scale(scale: Any) -> tuple[float, float]:
    """A declared rating scale as (low, high): two finite numbers, low below high."""
    try:
        if isinstance(scale, (str, bytes)):
            raise TypeError("text")
        low, high = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise DataError(f"rating_scale (--rating-scale) is LOW HIGH, got {scale!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise DataError(
            f"rating_scale (--rating-scale) must be two finite numbers LOW < HIGH, got {scale!r}"
        )
    return low, high


def titles_for(
    item_map: IdMap,
    item_ids: Sequence | np.ndarray | pd.Series,
    titles: Sequence | np.ndarray | pd.Series,
) -> np.ndarray:
    """Titles aligned with `item_map` ('' where an item has none); ids absent from the map are
    ignored (a titles file lists movies nobody rated); '10' finds 10, as another table's ids."""
    aligned = np.full(len(item_map), "", dtype=object)
    codes = item_map.find(_normalise_ids(pd.Series(item_ids)))
    known = codes >= 0
    aligned[codes[known]] = pd.Series(titles).fillna("").astype(str).to_numpy()[known]
    return aligned


def plain(value: Any) -> Any:
    """A numpy scalar as the Python int, float or str it holds, so notes print `308`, never
    `np.int64(308)`."""
    return value.item() if isinstance(value, np.generic) else value


def _encode(values: np.ndarray) -> tuple[IdMap, np.ndarray]:
    """The id map of a column of raw ids and each row's code."""
    ids, codes = encode_ids(values)
    return IdMap(ids, already_unique=True), codes


# integers a float64 holds exactly: past this, ids read as floats have lost digits
EXACT_FLOAT_INT = 2**53


class InexactIds(DataError):
    """Integer ids too large for the numbers they were read as (the file is read again with
    ids as text; from a DataFrame this is the error)."""


def _normalise_ids(column: pd.Series, name: str = "id", where: Where | None = None) -> np.ndarray:
    """Integer ids stay int64 (floats like 3.0 too); anything else becomes a string, as do
    unsigned ids past int64. Float ids of 2**53 or more have lost digits: InexactIds."""
    if pd.api.types.is_integer_dtype(column) and not column.isna().any():
        values = column.to_numpy()  # int32 stays int32: no copy of a 25M-row column
        if values.dtype.kind == "u" and len(values) and values.max() > np.iinfo(np.int64).max:
            return column.astype(str).to_numpy(dtype=object)  # exact digits, as text
        return values
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy()
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            large = np.flatnonzero(np.abs(values) >= EXACT_FLOAT_INT)
            if len(large):
                place = (where or Where("DataFrame")).row(int(large[0]))
                raise InexactIds(
                    f"{place}: field {name!r} is {values[large[0]]:.17g}, an integer id too "
                    "large to hold exactly as a number; pass the ids as text (strings)"
                )
            return values.astype(np.int64)
    return column.astype(str).str.strip().to_numpy(dtype=object)


def _ids(column: pd.Series, name: str, where: Where) -> np.ndarray:
    missing = column.isna().to_numpy()
    if not pd.api.types.is_numeric_dtype(column):
        missing = missing | column.astype(str).str.strip().eq("").to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(f"{where.row(row)}: field {name!r} is empty ({int(missing.sum())} rows)")
    return _normalise_ids(column, name, where)


def _numbers(column: pd.Series, name: str, where: Where) -> np.ndarray:
    kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else ""
    if (kind and kind in "mMc") or isinstance(column.dtype, pd.DatetimeTZDtype):
        what = {"m": "durations", "c": "complex numbers"}.get(kind, "dates")
        raise DataError(
            f"{where.source}: column {name!r} holds {what}, not ratings; name the rating "
            "column with --rating-col (rating_col=)"
        )
    if pd.api.types.is_float_dtype(column) and not isinstance(column.dtype, pd.ArrowDtype):
        values = column.to_numpy()  # no copy for float32/float64 columns
    else:
        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.dtype.kind == "c" or (
            numeric.dtype == object and numeric.map(lambda v: isinstance(v, complex)).any()
        ):
            raise DataError(f"{where.source}: column {name!r} holds complex numbers, not ratings")
        values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        shown = column.iloc[row]
        what = "empty or NaN" if pd.isna(shown) or str(shown).strip() == "" else f"{str(shown)!r}"
        raise DataError(
            f"{where.row(row)}: field {name!r} is {what}, not a number ({int(bad.sum())} such rows)"
        )
    # ratings are kept as float32 and their errors squared in float32: past the square root
    # of its largest number a squared error is inf, and one such rating swamps every other
    huge = np.flatnonzero(np.abs(values) > LARGEST_RATING)
    if len(huge):
        raise DataError(
            f"{where.row(int(huge[0]))}: field {name!r} is {values[huge[0]]:g}, too large for a "
            f"rating (at most {LARGEST_RATING:.3g}; {len(huge)} such rows)"
        )
    return values.astype(np.float32)


def _timestamps(column: pd.Series, name: str, where: Where) -> np.ndarray:
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().all():
        if pd.api.types.is_integer_dtype(numeric):
            return numeric.to_numpy(dtype=np.int64)
        values = numeric.to_numpy(dtype=np.float64)
        # seconds since 1970 that int64 holds (a float past it would be cast to garbage)
        bad = np.flatnonzero(~np.isfinite(values) | (np.abs(values) >= 2.0**62))
        if len(bad):
            raise DataError(
                f"{where.row(int(bad[0]))}: field {name!r} is {column.iloc[bad[0]]!r}, not a "
                f"timestamp (seconds since 1970) ({len(bad)} such rows)"
            )
        return values.astype(np.int64)
    with warnings.catch_warnings():  # pandas warns when each date is parsed on its own
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(column, errors="coerce", utc=True)
        failed = parsed.isna().to_numpy()
        if failed.any():  # the format guessed from the first date: others parsed one by one
            again = pd.to_datetime(column[failed], errors="coerce", utc=True, format="mixed")
            parsed = parsed.where(~failed, again)
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(
            f"{where.row(row)}: field {name!r} is {column.iloc[row]!r}, neither a number nor a date"
        )
    seconds = (parsed - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype=np.int64)


def read_ratings(
    path: str | Path,
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    timestamp_col: str | None = None,
    title_col: str | None = None,
    sep: str | None = None,
    rating_scale: tuple[float, float] | None = None,
    header: bool | None = None,
    columns: Sequence[str] | str | None = None,
    weight_col: str | None = None,
) -> Ratings:
    """Ratings from a CSV/TSV/Parquet file (plain or compressed); columns guessed when not named.

    `header=None` detects a header row (a first line with a number in it is data); `columns`
    names the columns in order (a list, or 'user,item,rating'), for a file without a header or,
    with `header=True`, instead of its header. A column option may also be a 0-based position:
    `user_col="0"` is the first column.

    >>> ratings = read_ratings("r.txt", header=False, columns="user,item,rating")  # doctest: +SKIP
    """
    if isinstance(columns, str):
        columns = columns.split(",")
    names = [str(c).strip() for c in columns] if columns is not None else None
    options: dict[str, Any] = {
        "user_col": user_col,
        "item_col": item_col,
        "rating_col": rating_col,
        "timestamp_col": timestamp_col,
        "title_col": title_col,
        "rating_scale": rating_scale,
        "weight_col": weight_col,
    }
    frame, where = read_table(path, sep=sep, names=names, header=header, arrow=True)
    try:
        return ratings_from_frame(frame, where=where, **options)
    except InexactIds:  # ids past 2**53 read as numbers: read them again as text, exactly
        frame, where = read_table(path, sep=sep, names=names, header=header, as_strings=True)
        return ratings_from_frame(frame, where=where, **options)
