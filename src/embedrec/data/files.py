"""Ratings from any CSV/TSV/Parquet file or pandas DataFrame with named columns.

Reading goes through pyarrow (multi-threaded, a few seconds for MovieLens-25M); validation goes
through `ratings_from_frame`, which turns every problem into a `DataError` naming the file, the
line and the field, so a user never sees a pandas traceback or silently wrong numbers.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from embedrec.data.encode import duplicate_rows, encode_ids
from embedrec.data.ratings import IdMap, Ratings
from embedrec.errors import DataError

SEPARATORS = ("::", "\t", ",", ";", "|")
SEP_NAMES = {"::": "'::'", "\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}

# Column names tried, case-insensitively, when the caller names none.
COLUMN_GUESSES = {
    "user": ("user", "userid", "user_id", "users", "customer_id", "reviewer_id"),
    "item": ("item", "itemid", "item_id", "movieid", "movie_id", "movie", "product_id", "asin"),
    "rating": ("rating", "ratings", "score", "stars", "value"),
    "timestamp": ("timestamp", "time", "ts", "date", "datetime", "unix_timestamp"),
    "title": ("title", "name", "item_name", "movie_title"),
}


@dataclass(frozen=True)
class Where:
    """How to name a row of the input in an error: 'ratings.csv line 17' or 'row 17'."""

    source: str
    first_line: int | None = None  # file line of data row 0; None for a DataFrame

    def row(self, index: int) -> str:
        if self.first_line is None:
            return f"{self.source} row {index}"
        return f"{self.source} line {self.first_line + index}"


def detect_separator(sample: str) -> str:
    """The separator of a delimited text sample: '::' first, then the most consistent of the rest.

    >>> detect_separator("1::2::5\\n")
    '::'
    """
    unquoted = re.sub(r'"[^"\n]*"', '""', sample)  # a quoted title may hold any separator
    lines = [line for line in unquoted.splitlines()[:20] if line.strip()]
    if not lines:
        raise DataError("cannot detect the separator of an empty file")
    if all("::" in line for line in lines):
        return "::"
    best, best_count = None, 0
    for sep in SEPARATORS[1:]:
        counts = {line.count(sep) for line in lines[:-1] or lines}
        if len(counts) == 1 and (count := counts.pop()) > best_count:
            best, best_count = sep, count
    if best is None:
        raise DataError(
            "could not detect the separator (tried '::', tab, comma, semicolon, pipe); "
            "name it with sep= / --sep"
        )
    return best


def read_table(
    path: str | Path,
    *,
    sep: str | None = None,
    names: list[str] | None = None,
    encoding: str = "utf-8",
    as_strings: bool = False,
    quoted: bool = True,
    arrow: bool = False,
) -> tuple[pd.DataFrame | pa.Table | ParquetColumns, Where]:
    """A delimited text or Parquet file as a DataFrame, plus how to name its lines in errors.

    `names` means the file has no header row. `as_strings` reads every column as text, which the
    validator uses to find the exact line of a value pyarrow could not convert. `arrow=True`
    returns the pyarrow Table, so a caller converts only the columns it uses.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            if arrow:  # read column by column later: peak memory stays near one column
                return ParquetColumns(pq.ParquetFile(path)), Where(str(path))
            return pq.read_table(path).to_pandas(), Where(str(path))
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    raw = path.read_bytes()
    if sep is None:
        sep = detect_separator(raw[:65536].decode(encoding, errors="replace"))
    file_sep = sep  # what a second, line-exact pass must split on
    if sep == "::":  # pyarrow takes one-character delimiters; ids and titles never hold a tab
        raw, sep = raw.replace(b"::", b"\t"), "\t"
    if len(sep) != 1:
        raise DataError(f"separator {sep!r} is not supported: use one character or '::'")
    where = Where(str(path), first_line=1 if names else 2)
    bad_rows: list = []

    def remember(row) -> str:
        bad_rows.append(row)
        return "skip"

    read_options = pacsv.ReadOptions(
        column_names=names, encoding=encoding, use_threads=not as_strings
    )
    parse_options = pacsv.ParseOptions(
        delimiter=sep, quote_char='"' if quoted else False, invalid_row_handler=remember
    )
    convert_options = None
    if as_strings:
        header = names or _header(raw, sep, encoding)
        convert_options = pacsv.ConvertOptions(column_types={n: pa.string() for n in header})

    def line_exact_pass():
        """Every column as text, one thread: slower, but it names the exact bad line."""
        return read_table(
            path,
            sep=file_sep,
            names=names,
            encoding=encoding,
            as_strings=True,
            quoted=quoted,
            arrow=arrow,
        )

    try:
        table = pacsv.read_csv(io.BytesIO(raw), read_options, parse_options, convert_options)
    except pa.ArrowInvalid as exc:
        if as_strings:
            sep_name = SEP_NAMES.get(file_sep, file_sep)
            raise DataError(f"{path}: cannot parse as {sep_name}-separated ({exc})") from None
        return line_exact_pass()
    if bad_rows and bad_rows[0].number is None and not as_strings:
        return line_exact_pass()  # threaded parsing loses line numbers
    if bad_rows:
        row = bad_rows[0]
        line = f"line {row.number}" if row.number is not None else "a line"
        raise DataError(
            f"{path} {line}: expected {row.expected_columns} fields separated by "
            f"{SEP_NAMES.get(file_sep, repr(file_sep))}, found {row.actual_columns}: "
            f"{row.text.replace(chr(9), file_sep)[:80]!r}"
            + (f" ({len(bad_rows)} such lines)" if len(bad_rows) > 1 else "")
        )
    return (table if arrow else table.to_pandas()), where


def _header(raw: bytes, sep: str, encoding: str) -> list[str]:
    first = raw.split(b"\n", 1)[0].decode(encoding, errors="replace").rstrip("\r")
    return [name.strip('"') for name in first.split(sep)]


def guess_column(columns: list[str], role: str) -> str | None:
    lowered = {str(c).lower(): c for c in columns}
    for guess in COLUMN_GUESSES[role]:
        if guess in lowered:
            return lowered[guess]
    return None


class ParquetColumns:
    """A Parquet file whose columns are read one at a time, when first asked for."""

    def __init__(self, parquet: pq.ParquetFile):
        self.parquet = parquet
        self.column_names = list(parquet.schema_arrow.names)
        self.num_rows = parquet.metadata.num_rows

    def column(self, name: str) -> pa.ChunkedArray:
        return self.parquet.read(columns=[name]).column(0)


Table = pd.DataFrame | pa.Table | ParquetColumns


def _n_rows(table: Table) -> int:
    return len(table) if isinstance(table, pd.DataFrame) else table.num_rows


def _column(table: Table, name: str) -> pd.Series:
    """One column as a Series; from Arrow or Parquet only the columns used are converted."""
    if isinstance(table, pd.DataFrame):
        return table[name]
    chunked = table.column(name)
    if chunked.null_count == 0 and pa.types.is_primitive(chunked.type):
        series = pd.Series(chunked.to_numpy(), name=name)  # one copy into a numpy array
    else:
        series = chunked.to_pandas()
    del chunked
    pa.default_memory_pool().release_unused()  # hand Arrow's buffers back before the next column
    return series


def ratings_from_frame(
    frame: Table,
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    timestamp_col: str | None = None,
    title_col: str | None = None,
    rating_scale: tuple[float, float] | None = None,
    where: Where | None = None,
) -> Ratings:
    """Validate and encode a ratings table; columns are guessed when not named.

    Duplicate (user, item) rows keep the last one and are reported in `Ratings.notes`.

    >>> df = pd.DataFrame({"userId": ["u1", "u2"], "movieId": [10, 20], "rating": [4.0, 3.5]})
    >>> ratings_from_frame(df).n_items
    2
    """
    where = where or Where("DataFrame")
    if _n_rows(frame) == 0:
        raise DataError(f"{where.source}: no ratings (the table has no rows)")
    if isinstance(frame, pd.DataFrame):
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    columns = (
        list(frame.columns)
        if isinstance(frame, pd.DataFrame)
        else [str(c) for c in frame.column_names]
    )
    user_col = _pick(columns, user_col, "user", where, required=True)
    item_col = _pick(columns, item_col, "item", where, required=True)
    rating_col = _pick(columns, rating_col, "rating", where, required=True)
    timestamp_col = _pick(columns, timestamp_col, "timestamp", where, required=False)
    title_col = _pick(columns, title_col, "title", where, required=False)

    users = _ids(_column(frame, user_col), user_col, where)
    items = _ids(_column(frame, item_col), item_col, where)
    ratings = _numbers(_column(frame, rating_col), rating_col, where)
    if rating_scale is not None:
        low, high = rating_scale
        outside = np.flatnonzero((ratings < low) | (ratings > high))
        if len(outside):
            row = outside[0]
            raise DataError(
                f"{where.row(row)}: field {rating_col!r} is {ratings[row]:g}, outside the "
                f"declared rating range {low:g}..{high:g} ({len(outside)} such rows)"
            )
    timestamps = None
    if timestamp_col is not None:
        timestamps = _timestamps(_column(frame, timestamp_col), timestamp_col, where)

    user_map, user_codes = encode_ids(users)
    item_map, item_codes = encode_ids(items)
    notes: list[str] = []
    duplicated = duplicate_rows(user_codes, item_codes, len(user_map), len(item_map))
    if duplicated.any():
        first = int(np.flatnonzero(duplicated)[0])
        notes.append(
            f"{int(duplicated.sum())} duplicate (user, item) rows: kept the last of each "
            f"(first dropped: {where.row(first)}, user {users[first]!r}, item {items[first]!r})"
        )
        keep = ~duplicated
        user_codes, item_codes, ratings = user_codes[keep], item_codes[keep], ratings[keep]
        if timestamps is not None:
            timestamps = timestamps[keep]
        # a user or item whose only rows were dropped cannot exist: each pair keeps one row
    del users
    titles = None
    if title_col is not None:
        titles = titles_for(item_map, _column(frame, item_col), _column(frame, title_col))
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
    )


def titles_for(item_map: IdMap, item_ids, titles) -> np.ndarray:
    """Titles aligned with `item_map` ('' where an item has none); ids absent from the map are
    ignored (a titles file lists movies nobody rated)."""
    aligned = np.full(len(item_map), "", dtype=object)
    codes = item_map.indexer(_normalise_ids(pd.Series(item_ids)))
    known = codes >= 0
    aligned[codes[known]] = pd.Series(titles).fillna("").astype(str).to_numpy()[known]
    return aligned


def _pick(columns: list[str], name: str | None, role: str, where: Where, required: bool):
    if name is not None:
        if name in columns:
            return name
        raise DataError(
            f"{where.source}: no column {name!r} (the {role} column); columns are: "
            f"{', '.join(columns)}" + _separator_hint(columns)
        )
    guessed = guess_column(columns, role)
    if guessed is None and required:
        flag = f"--{role}-col" if role != "timestamp" else "--timestamp-col"
        raise DataError(
            f"{where.source}: cannot tell which column holds the {role}; columns are: "
            f"{', '.join(columns)}. Name it with {role}_col= / {flag}" + _separator_hint(columns)
        )
    return guessed


def _separator_hint(columns: list[str]) -> str:
    if len(columns) == 1:
        return " (only one column was found: is the separator right? set it with --sep)"
    return ""


def _normalise_ids(column: pd.Series) -> np.ndarray:
    """Integer ids stay int64 (floats like 3.0 too); anything else becomes a string."""
    if pd.api.types.is_integer_dtype(column) and not column.isna().any():
        return column.to_numpy()  # int32 stays int32: no copy of a 25M-row column
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy()
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            return values.astype(np.int64)
    return column.astype(str).str.strip().to_numpy(dtype=object)


def _ids(column: pd.Series, name: str, where: Where) -> np.ndarray:
    missing = column.isna().to_numpy()
    if not pd.api.types.is_numeric_dtype(column):
        missing = missing | column.astype(str).str.strip().eq("").to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(f"{where.row(row)}: field {name!r} is empty ({int(missing.sum())} rows)")
    return _normalise_ids(column)


def _numbers(column: pd.Series, name: str, where: Where) -> np.ndarray:
    if pd.api.types.is_float_dtype(column) and not isinstance(column.dtype, pd.ArrowDtype):
        values = column.to_numpy()  # no copy for float32/float64 columns
    else:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        shown = column.iloc[row]
        what = "empty" if pd.isna(shown) or str(shown).strip() == "" else f"{str(shown)!r}"
        raise DataError(
            f"{where.row(row)}: field {name!r} is {what}, not a number ({int(bad.sum())} such rows)"
        )
    return values.astype(np.float32)


def _timestamps(column: pd.Series, name: str, where: Where) -> np.ndarray:
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().all():
        return numeric.to_numpy(dtype=np.int64)
    parsed = pd.to_datetime(column, errors="coerce", utc=True)
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
) -> Ratings:
    """Ratings from a CSV/TSV/Parquet file with a header row; columns guessed when not named.

    >>> ratings = read_ratings("ratings.csv", rating_scale=(0.5, 5))  # doctest: +SKIP
    """
    frame, where = read_table(path, sep=sep, arrow=True)
    return ratings_from_frame(
        frame,
        user_col=user_col,
        item_col=item_col,
        rating_col=rating_col,
        timestamp_col=timestamp_col,
        title_col=title_col,
        rating_scale=rating_scale,
        where=where,
    )
