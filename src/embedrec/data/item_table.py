"""Titles and genres from a table of items beside the ratings: Last.fm's `artists.dat`,
MovieTweetings' `movies.dat`, a shop's `products.csv`. Joined by item id, so `recommend`, the
service, its page and the map name items instead of showing ids (fastai's chapter merges its
movies table into the ratings for the same reason).

The table's columns are found by name, as the ratings' are: the id (`item`, `movieId`,
`artistID`, ..., or `id`), the title (`title`, `name`, ...) and the genres (`genres`, `genre`,
`categories`, `tags`; several as 'Action|Comedy'); a headerless file is read by position: id,
title, then genres. In Python each may be named (`item_col=`, `title_col=`, `genres_col=`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from embedrec.data.files import COLUMN_GUESSES, guess_column, read_table
from embedrec.data.layout import column_key
from embedrec.data.ratings import Ratings
from embedrec.data.splits import Split
from embedrec.data.validate import titles_for
from embedrec.errors import DataError

ID_GUESSES = (*COLUMN_GUESSES["item"], "id")
GENRE_GUESSES = ("genres", "genre", "categories", "category", "tags")
POSITIONS = ("item", "title", "genres")  # a headerless table's columns


@dataclass(frozen=True)
class ItemTable:
    """An item table as read: ids, titles and genres (None when it has none), and where from."""

    ids: pd.Series
    titles: pd.Series
    genres: pd.Series | None
    source: str
    columns: str  # what was taken for what, for the note: "id 'id', title 'name'"


def read_item_table(
    table: str | Path | pd.DataFrame,
    *,
    item_col: str | None = None,
    title_col: str | None = None,
    genres_col: str | None = None,
) -> ItemTable:
    """The ids, titles and genres of an item table (a file's path or a DataFrame)."""
    if isinstance(table, pd.DataFrame):
        frame, source, headerless = table, "the item table (DataFrame)", False
    else:
        try:  # a TSV's '"Weird Al" Yankovic' stays; ids as written ('0012' finds text and 12)
            frame, where = read_table(table, quoted=None, as_strings=True)
        except DataError as exc:
            if "separator" not in str(exc):
                raise
            raise DataError(  # one column, or an unusual separator: --sep is the ratings'
                f"{table}: an item table holds an id and a title column at least, separated by "
                "a comma, tab, semicolon, pipe, '::' or spaces; this one's first line is not"
            ) from None
        source, headerless = str(table), where.headerless
    if headerless:  # by position: id, title, genres
        frame = frame.set_axis([*POSITIONS, *frame.columns[3:]][: frame.shape[1]], axis=1)
    columns = [str(c) for c in frame.columns]
    item = _column(columns, item_col, "item_col", source) or _guessed(columns, ID_GUESSES)
    title = (
        _column(columns, title_col, "title_col", source)
        or guess_column(columns, "title")
        or _named(columns)
    )
    genres = _column(columns, genres_col, "genres_col", source) or _guessed(columns, GENRE_GUESSES)
    if item is None or title is None:
        raise DataError(
            f"{source}: cannot tell which column holds the item's "
            f"{'id' if item is None else 'title'}; columns are: {', '.join(columns)}. Name them "
            "item and title in the file's header (or item_col=, title_col= in Python)"
        )
    frame = frame[frame[item].notna()]  # a row without an id names nothing (and made 10.0)
    taken = [("id", item), ("title", title)] + ([("genres", genres)] if genres else [])
    return ItemTable(
        ids=frame[item],
        titles=frame[title],
        genres=None if genres is None else frame[genres].fillna("").astype(str),
        source=source,
        columns=", ".join(f"{role} {name!r}" for role, name in taken),
    )


def with_item_table(ratings: Ratings, table: ItemTable) -> Ratings:
    """`ratings` with titles and genres from `table` ('' for an item it does not list), and a
    note saying how many rated items it named; a DataError when it names none of them, as a
    table of other ids (or an id column that is not the id) would."""
    titles = titles_for(ratings.item_map, table.ids, table.titles)
    named = int((titles != "").sum())
    if named == 0:
        shown = ", ".join(map(str, table.ids.head(3).tolist()))
        raised = ", ".join(map(str, ratings.item_map.ids[:3].tolist()))
        raise DataError(
            f"{table.source}: names none of the rated items (its ids start {shown}; the "
            f"ratings' start {raised}); is its {table.columns.split(',')[0]} the item id?"
        )
    genres = (  # a table without genres leaves those the ratings have (a MovieLens folder's)
        ratings.genres
        if table.genres is None
        else titles_for(ratings.item_map, table.ids, table.genres)
    )
    note = (
        f"titles from {table.source} ({table.columns}): {named:,} of {ratings.n_items:,} "
        "items named"
    )
    return replace(ratings, titles=titles, genres=genres, notes=[*ratings.notes, note])


def split_with_item_table(split: Split, table: ItemTable) -> Split:
    """Both sides of `split` with the table's titles and genres, joined once where the sides
    share one item map (as every split embedrec makes does)."""
    train = with_item_table(split.train, table)
    if split.valid.item_map is split.train.item_map:
        valid = replace(split.valid, titles=train.titles, genres=train.genres)
    else:
        valid = with_item_table(split.valid, table)
    return Split(train, valid, split.name)


def _column(columns: list[str], name: str | None, option: str, source: str) -> str | None:
    if name is None:
        return None
    if name not in columns:
        raise DataError(
            f"{source}: no column {name!r} ({option}); columns are: {', '.join(columns)}"
        )
    return name


def _guessed(columns: list[str], guesses: tuple[str, ...]) -> str | None:
    lowered = {column_key(c): c for c in columns}
    return next((lowered[g] for g in guesses if g in lowered), None)


def _named(columns: list[str]) -> str | None:
    """The one column called *_name (a shop's `product_name`): in an item table, its title."""
    names = [c for c in columns if column_key(c).endswith("_name")]
    return names[0] if len(names) == 1 else None
