"""What a user hands a trained model: (user, item) pairs to score, a new user's few ratings (or,
for a model trained on interactions, the items they chose).

These are small inputs read from the command line or a file, not training data, so they skip the
`Ratings` checks and encoding: ids stay raw (the `Recommender` resolves them and reports unknown
ones), but every file or value that cannot be used is a `DataError` naming the file, the line
or the option, as the CLI's `predict --pairs` and `recommend --ratings/--ratings-file` need.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embedrec import jsontext
from embedrec.data.files import column_names, guess_column, read_table
from embedrec.errors import DataError

JSON_EXAMPLE = "'{\"Star Wars (1977)\": 5}'"


def pairs_frame(pairs: pd.DataFrame | Iterable[tuple[Any, Any]]) -> pd.DataFrame:
    """(user, item) pairs given in code, a frame with user and item columns or (user, item)
    tuples, as the frame `Recommender.predict` scores; DataError where they are neither."""
    if isinstance(pairs, pd.DataFrame):
        if not {"user", "item"} <= set(pairs.columns):
            raise DataError(
                f"pairs need a user and an item column; columns are: {list(pairs.columns)}"
            )
        return pairs
    rows = list(pairs)
    odd = next((r for r in rows if not isinstance(r, (tuple, list)) or len(r) != 2), None)
    if odd is not None:
        raise DataError(f"pairs are (user, item) tuples, got {odd!r}")
    return pd.DataFrame(rows, columns=["user", "item"])


def read_pairs(path: str | Path) -> pd.DataFrame:
    """(user, item) pairs from a CSV/TSV/Parquet file with a header row, as a DataFrame with
    columns `user` and `item` (raw ids, in file order), ready for `Recommender.predict`.

    The columns are guessed from their names (`user`, `userId`, `item`, `movieId`, ...; see
    `embedrec.data.files.COLUMN_GUESSES`); other columns are dropped.

    >>> pairs = read_pairs("pairs.csv")  # doctest: +SKIP
    >>> list(pairs.columns)  # doctest: +SKIP
    ['user', 'item']
    """
    frame, _ = read_table(path)
    columns = column_names(frame)
    user_col, item_col = guess_column(columns, "user"), guess_column(columns, "item")
    if user_col is None or item_col is None:
        raise DataError(
            f"{path}: needs a user and an item column; columns are: {', '.join(columns)}: "
            "name them user and item in its header"
        )
    frame = frame.set_axis(columns, axis=1)
    return frame[[user_col, item_col]].set_axis(["user", "item"], axis=1)


def read_user_ratings(
    text: str | None = None, path: str | Path | None = None
) -> dict[Hashable, float]:
    """A new user's ratings as {item id or title: rating}, from exactly one of:

    - `text`: a JSON object, as the CLI's `--ratings` takes it: '{"Star Wars (1977)": 5}';
    - `path`: a `.json` file holding such an object, or a CSV/TSV/Parquet file with a header row,
      an item (or title) column and a rating column (`--ratings-file`).

    Ratings come back as floats; an item named twice in a file keeps its last rating.

    >>> read_user_ratings('{"Star Wars (1977)": 5, "50": 4.5}')
    {'Star Wars (1977)': 5.0, '50': 4.5}
    """
    if path is None:
        if text is None:
            raise DataError(
                "no ratings given: pass JSON text (--ratings) or a file (--ratings-file)"
            )
        return _from_json(text, None)
    if text is not None:
        raise DataError(
            "give the ratings as JSON text (--ratings) or as a file (--ratings-file), not both"
        )
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() == ".json":
        try:
            return _from_json(path.read_text(encoding="utf-8"), path)
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text, so not a JSON file") from None
    return _from_table(path)


def read_liked(text: str) -> list[Hashable]:
    """A new user's chosen items, as the CLI's `--liked` takes them: ids or titles separated by
    commas (`51,52,Radiohead`), or a JSON list when a title holds a comma
    (`'["Crosby, Stills & Nash", 52]'`).

    >>> read_liked("51, 52,Radiohead")
    ['51', '52', 'Radiohead']
    """
    if text.lstrip().startswith("["):
        try:
            value = jsontext.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"--liked is not a JSON list ({exc}); or write 51,52") from None
        if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise DataError("--liked takes item ids or titles (text or whole numbers)")
        liked: list[Hashable] = value
    else:
        liked = [part.strip() for part in text.split(",") if part.strip()]
    if not liked:
        raise DataError("--liked names no item: give ids or titles like 51,52")
    return liked


def _from_json(text: str, path: Path | None) -> dict[Hashable, float]:
    """The ratings in a JSON object; errors name the file, or the --ratings option."""
    try:
        value = jsontext.loads(text)
    except json.JSONDecodeError as exc:
        if path is None:
            raise DataError(
                f"--ratings is not JSON ({exc}); write it like {JSON_EXAMPLE}"
            ) from None
        raise DataError(f"{path}: not JSON ({exc}); write it like {JSON_EXAMPLE}") from None
    if not isinstance(value, dict):
        what = "--ratings takes" if path is None else f"{path}: needs"
        raise DataError(f"{what} a JSON object: {{item id or title: rating, ...}}")
    source = "--ratings" if path is None else str(path)
    ratings: dict[Hashable, float] = {}
    for item, rating in value.items():
        number = _number(rating)
        if number is None:
            raise DataError(f"{source}: the rating of {item!r} is {rating!r}, not a number")
        ratings[item] = number
    return ratings


def _number(value: object) -> float | None:
    """A finite rating as a float (numbers and numeric text), None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _from_table(path: Path) -> dict[Hashable, float]:
    """The ratings in a delimited or Parquet file with an item (or title) and a rating column."""
    frame, where = read_table(path)
    columns = column_names(frame)
    frame = frame.set_axis(columns, axis=1)
    item = guess_column(columns, "item") or guess_column(columns, "title")
    rating = guess_column(columns, "rating")
    if where.headerless:  # no header row: two columns are item and rating, in order
        if len(columns) != 2:
            raise DataError(
                f"{path}: no header row, and {len(columns)} columns; a file of a user's "
                "ratings without a header holds two, item and rating: add a header line "
                "naming them (item,rating)"
            )
        item, rating = columns
    if item is None or rating is None:
        raise DataError(
            f"{path}: needs an item (or title) and a rating column; columns are: "
            f"{', '.join(columns)}"
        )
    items = frame[item]
    missing = items.isna().to_numpy() | items.astype(str).str.strip().eq("").to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(f"{where.row(row)}: field {item!r} is empty")
    values = pd.to_numeric(frame[rating], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        shown = frame[rating].iloc[row]
        what = "empty" if pd.isna(shown) or str(shown).strip() == "" else repr(str(shown))
        raise DataError(f"{where.row(row)}: field {rating!r} is {what}, not a number")
    return dict(zip(items.tolist(), values.tolist()))
