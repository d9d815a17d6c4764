"""Which column of a table holds what: the user and item ids, the rating or the interaction
weight, the timestamp and the title, named by the caller (by name or 0-based position) or
guessed from the usual names (`embedrec.data.files.COLUMN_GUESSES`). A column that cannot be
found is an error that names the table's columns and the option to name it with.
"""

from __future__ import annotations

import pandas as pd

from embedrec.data.files import Table, Where, column_names, column_values, guess_column
from embedrec.errors import DataError


def pick_column(columns: list[str], name: str | None, role: str, where: Where) -> str | None:
    """The column named `name` (an error if absent; a number is a 0-based position when no
    column has that name), else the guessed one, else None."""
    if name is not None:
        if name in columns:
            return name
        if name.strip().isdigit() and int(name) < len(columns):
            return columns[int(name)]
        raise DataError(
            f"{where.source}: no column {name!r} (the {role} column); columns are: "
            f"{', '.join(columns)}" + separator_hint(columns)
        )
    return guess_column(columns, role)


def require_column(columns: list[str], name: str | None, role: str, where: Where) -> str:
    """As `pick_column`, but a column that cannot be found is an error saying how to name it."""
    picked = pick_column(columns, name, role, where)
    if picked is None:
        raise DataError(
            f"{where.source}: cannot tell which column holds the {role}; columns are: "
            f"{', '.join(columns)}. Name it with {role}_col= / --{role}-col"
            + separator_hint(columns)
        )
    return picked


def separator_hint(columns: list[str]) -> str:
    if len(columns) == 1:
        return " (only one column was found: is the separator right? set it with --sep)"
    return ""


def value_columns(
    frame: Table,
    named: dict[str, str | None],
    placed: tuple[str | None, ...],
    where: Where,
) -> tuple[str | None, str | None]:
    """(rating column, weight column): at most one of them; neither for a table of id columns
    (and a timestamp or title) only, each row of which weighs 1."""
    columns = column_names(frame)
    if named["rating"] is not None and named["weight"] is not None:
        raise DataError(
            f"{where.source}: give a rating column (--rating-col) or a weight column "
            "(--weight-col), not both: ratings say how much a user liked an item, weights how "
            "often they chose it"
        )
    if named["weight"] is not None:
        return None, pick_column(columns, named["weight"], "weight", where)
    rating = pick_column(columns, named["rating"], "rating", where)
    if rating is not None:
        return rating, None
    weight = guess_column(columns, "weight")
    others = [c for c in columns if c not in placed]
    if weight is not None or not others:
        return None, weight
    texts = {column: kinds for column in others if (kinds := text_values(frame, column))}
    raise DataError(
        f"{where.source}: cannot tell which column holds the rating; columns are: "
        f"{', '.join(columns)}. "
        + (
            text_hint(*next(iter(texts.items())))
            if len(texts) == len(others)
            else "Name it with rating_col= / --rating-col, or for plays, clicks or purchases "
            "name their count with weight_col= / --weight-col"
        )
        + separator_hint(columns)
    )


def text_values(frame: Table, column: str) -> list[str]:
    """The first few distinct values of a column of text none of which is a number (an event
    type such as view or transaction), else []: such a column is no rating."""
    values = column_values(frame, column)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return []
    words = values.dropna().astype(str)
    if words.empty or pd.to_numeric(words, errors="coerce").notna().any():
        return []
    return list(words.drop_duplicates().head(3))


def text_hint(column: str, kinds: list[str]) -> str:
    """What to do with a file of events whose other column names their kind."""
    shown = ", ".join(repr(kind) for kind in kinds)
    return (
        f"{column!r} holds text ({shown}), neither a rating nor a count: to train on the rows "
        "as events each weighing 1, drop that column (or first keep the rows of one kind); to "
        "weigh the kinds, write each row's weight in a column and name it with weight_col= / "
        "--weight-col"
    )


def indexed_ids_as_columns(
    frame: pd.DataFrame | pd.Series, user_col: str | None, item_col: str | None
) -> pd.DataFrame:
    """`frame` with its named index levels as columns where its columns lack the user or the
    item: `set_index(["user", "item"])` and `groupby(...).mean()` leave the ids there (a table
    whose ids are columns keeps its index out of the way, and positions stay positions). A
    Series is its values' column (`rating` when unnamed)."""
    if isinstance(frame, pd.Series):
        frame = frame.to_frame("rating" if frame.name is None else str(frame.name))
    named = [name for name in frame.index.names if name is not None and name not in frame]
    columns = [str(c) for c in frame.columns]

    def present(name: str | None, role: str) -> bool:
        if name is None:
            return guess_column(columns, role) is not None
        return name in columns or name.strip().isdigit()  # a position counts the columns

    if not named or (present(user_col, "user") and present(item_col, "item")):
        return frame
    return frame.reset_index(level=named)
