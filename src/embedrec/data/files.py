"""Reading tables from CSV/TSV/Parquet files: separator detection, header, column guessing.

Reading goes through pyarrow (multi-threaded, a few seconds for MovieLens-25M) and only reads:
a file that cannot be parsed is a `DataError` naming the file and line, but what the values mean
is checked by `embedrec.data.validate`, which builds `Ratings` on top of this module. Keeping the
two apart lets other readers (prediction pairs, a new user's ratings) share the parsing without
the ratings checks, and keeps the dependency one-way: validate imports files, never the reverse.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeAlias, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from embedrec.data.compressed import inner_suffix, read_bytes
from embedrec.data.json_table import JSON_SUFFIXES, read_json_table, refuse_spreadsheet
from embedrec.data.layout import (
    SEP_NAMES,
    WHITESPACE,
    WHITESPACE_NAMES,
    column_key,
    detect_separator,
    duplicated_name,
    first_fields,
    headerless_names,
    is_number,
    split_whitespace,
)
from embedrec.data.parquet import ParquetColumns
from embedrec.errors import DataError

# Column names tried, case-insensitively, when the caller names none.
COLUMN_GUESSES = {
    "user": (
        "user",
        "userid",
        "user_id",
        "users",
        "customer",
        "customer_id",
        "customerid",
        "reviewer_id",
        "reviewerid",
    ),
    "item": (
        "item",
        "itemid",
        "item_id",
        "movieid",
        "movie_id",
        "movie",
        "product",
        "product_id",
        "productid",
        "sku",
        "asin",
        "artist",
        "artistid",
        "artist_id",
        "track",
        "trackid",
        "track_id",
        "song",
        "song_id",
        "book",
        "book_id",
        "isbn",
    ),
    "rating": ("rating", "ratings", "score", "stars", "value"),  # and any name ending in rating
    # how much of an item a user took, where the table has no rating: plays, clicks, purchases
    "weight": (
        "weight",
        "weights",
        "count",
        "counts",
        "plays",
        "playcount",
        "play_count",
        "clicks",
        "views",
        "listens",
        "purchases",
        "quantity",
        "qty",
    ),
    "timestamp": ("timestamp", "time", "ts", "date", "datetime", "unix_timestamp"),
    "title": ("title", "name", "item_name", "movie_title"),
}


@dataclass(frozen=True)
class Where:
    """How to name a row of the input in an error: 'ratings.csv line 17' or 'row 17'."""

    source: str
    first_line: int | None = None  # file line of data row 0; None for a DataFrame
    notes: tuple[str, ...] = ()  # what reading detected that a user should hear
    first_row: int = 0  # the table's row number of row 0 (a distributed run's shard)
    headerless: bool = False  # a text file without a header row: its columns go by position

    def row(self, index: int) -> str:
        if self.first_line is None:
            return f"{self.source} row {self.first_row + index}"
        return f"{self.source} line {self.first_line + index}"


# What `read_table` returns: a DataFrame, or with arrow=True a pyarrow Table or ParquetColumns.
Table: TypeAlias = pd.DataFrame | pa.Table | ParquetColumns


@overload
def read_table(
    path: str | Path,
    *,
    sep: str | None = ...,
    names: list[str] | None = ...,
    header: bool | None = ...,
    encoding: str = ...,
    as_strings: bool = ...,
    quoted: bool | None = ...,
    arrow: Literal[False] = ...,
) -> tuple[pd.DataFrame, Where]: ...


@overload
def read_table(
    path: str | Path,
    *,
    sep: str | None = ...,
    names: list[str] | None = ...,
    header: bool | None = ...,
    encoding: str = ...,
    as_strings: bool = ...,
    quoted: bool | None = ...,
    arrow: Literal[True],
) -> tuple[pa.Table | ParquetColumns, Where]: ...


@overload
def read_table(
    path: str | Path,
    *,
    sep: str | None = ...,
    names: list[str] | None = ...,
    header: bool | None = ...,
    encoding: str = ...,
    as_strings: bool = ...,
    quoted: bool | None = ...,
    arrow: bool = ...,
) -> tuple[Table, Where]: ...


def read_table(
    path: str | Path,
    *,
    sep: str | None = None,
    names: list[str] | None = None,
    header: bool | None = None,
    encoding: str = "utf-8",
    as_strings: bool = False,
    quoted: bool | None = True,
    arrow: bool = False,
) -> tuple[Table, Where]:
    """A delimited text or Parquet file (plain, .gz, .bz2, .zst or a one-file .zip) as a
    DataFrame, plus how to name its lines in errors.

    `header=None` detects whether the first line is a header: a first line holding a number is
    data (a header names columns; every rating is a number). `names` names the columns (of a
    headerless file, or replacing the header when `header=True`); a headerless file without
    `names` gets `headerless_names`. `as_strings` reads every column as text, which the
    validator uses to find the exact line of a value pyarrow could not convert. `arrow=True`
    returns the pyarrow Table (or, for Parquet, a `ParquetColumns`), so a caller converts only
    the columns it uses. `quoted=None`: quotes enclose fields only where the separator is a
    comma or a semicolon (a CSV's); a tab-separated file's quotes are text ('"Weird Al"').

    >>> frame, where = read_table("ratings.csv")  # doctest: +SKIP
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: a directory, not a ratings file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    refuse_spreadsheet(path, inner_suffix(path))
    if inner_suffix(path) in JSON_SUFFIXES:
        _layout_of_text_only(path, names, header, "a JSON file")
        frame, first_line = read_json_table(path)
        return frame, Where(str(path), first_line=first_line)
    if inner_suffix(path) in (".parquet", ".pq"):
        _layout_of_text_only(path, names, header)
        try:
            if path.suffix.lower() not in (".parquet", ".pq"):  # compressed Parquet
                return pq.read_table(pa.BufferReader(read_bytes(path))).to_pandas(), Where(
                    str(path)
                )
            if arrow:  # read column by column later: peak memory stays near one column
                return ParquetColumns(pq.ParquetFile(path)), Where(str(path))
            return pq.read_table(path).to_pandas(), Where(str(path))
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    raw = read_bytes(path)
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte-order mark (Excel's)
        try:
            raw = raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{path}: starts as UTF-16 text but is not; save it as UTF-8") from None
    if raw[:4] == b"PAR1":  # Parquet under another name
        _layout_of_text_only(path, names, header)
        try:
            return pq.read_table(pa.BufferReader(raw)).to_pandas(), Where(str(path))
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    if not raw.strip():
        raise DataError(f"{path}: the file is empty")
    if sep in WHITESPACE_NAMES:
        sep = WHITESPACE
    if sep is None:
        sep = detect_separator(raw[:65536].decode(encoding, errors="replace"), str(path))
    file_sep = sep  # what a second, line-exact pass must split on
    if quoted is None:
        quoted = sep in (",", ";")
    if sep == WHITESPACE:
        raw, sep = split_whitespace(raw), "\t"
    if sep == "::":  # pyarrow takes one-character delimiters; ids and titles never hold a tab
        raw, sep = raw.replace(b"::", b"\t"), "\t"
    if len(sep) != 1:
        raise DataError(f"{path}: separator {sep!r} is not supported: use one character or '::'")
    if encoding.lower().replace("-", "") == "utf8" and not _is_utf8(raw):
        _not_utf8_line(raw, path)  # else pyarrow fails on it later, some ways with a traceback
    first, fields = first_fields(raw, sep, encoding, quoted)
    shown = first.replace("\t", " " if file_sep == WHITESPACE else file_sep)[:80]
    notes: list[str] = []
    if header is None:
        header = not any(is_number(field) for field in fields)
        if not header and names is None:
            notes.append(
                f"{path}: no header row (the first line {shown!r} is data): columns taken by "
                f"position as {', '.join(headerless_names(fields))}; name them with --columns"
            )
    if names is not None:
        names = [name.strip() or str(i) for i, name in enumerate(names)]
        if len(names) != len(fields):
            raise DataError(
                f"{path}: {len(names)} column names given ({', '.join(names)}), but the first "
                f"line has {len(fields)} fields: {shown!r}"
            )
        if (twice := duplicated_name(names)) is not None:
            raise DataError(f"{path}: the column name {twice!r} is given twice")
    elif not header:
        names = headerless_names(fields)
    elif (twice := duplicated_name([f.strip() for f in fields])) is not None:
        raise DataError(
            f"{path} line 1: the column name {twice!r} appears twice in the header {shown!r}; "
            "if that line is data, say --no-header (header=False), and name the columns with "
            "--columns user,item,rating,..."
        )
    where = Where(str(path), 2 if header else 1, tuple(notes), headerless=not header)
    bad_rows: list[Any] = []  # pyarrow's InvalidRow records

    def remember(row: Any) -> str:
        bad_rows.append(row)
        return "skip"

    read_options = pacsv.ReadOptions(
        column_names=names,
        skip_rows=1 if header and names is not None else 0,
        encoding=encoding,
        use_threads=not as_strings,
    )
    parse_options = pacsv.ParseOptions(
        delimiter=sep, quote_char='"' if quoted else False, invalid_row_handler=remember
    )
    convert_options = None
    if as_strings:
        strings = names or fields
        convert_options = pacsv.ConvertOptions(column_types={n: pa.string() for n in strings})

    def line_exact_pass() -> tuple[Table, Where]:
        """Every column as text, one thread: slower, but it names the exact bad line."""
        return read_table(
            path,
            sep=file_sep,
            names=names,
            header=header,
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
        text = row.text.replace(chr(9), " " if file_sep == WHITESPACE else file_sep)
        raise DataError(
            f"{path} {line}: expected {row.expected_columns} fields separated by "
            f"{SEP_NAMES.get(file_sep, repr(file_sep))}, found {row.actual_columns}: "
            f"{text[:80]!r}" + (f" ({len(bad_rows)} such lines)" if len(bad_rows) > 1 else "")
        )
    return (table if arrow else table.to_pandas()), where


def _layout_of_text_only(
    path: Path, names: list[str] | None, header: bool | None, kind: str = "a Parquet file"
) -> None:
    """A Parquet or JSON file names its own columns: --columns or --no-header would be ignored."""
    if names is not None or header is False:
        raise DataError(
            f"{path}: {kind} names its own columns; --columns and --no-header are for "
            "text files: pick its columns with --user-col, --item-col, --rating-col"
        )


def _is_utf8(raw: bytes) -> bool:
    """Whether `raw` is UTF-8 text, checked by Arrow's validator over the bytes in place (no
    decoded copy of a file of hundreds of megabytes)."""
    offsets = pa.py_buffer(np.array([0, len(raw)], dtype=np.int64).tobytes())
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(raw)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _not_utf8_line(raw: bytes, path: Path) -> NoReturn:
    """The DataError naming the first line of `raw` that is not UTF-8."""
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path} line {number}: byte 0x{line[exc.start]:02x} at position "
                f"{exc.start + 1} is not UTF-8 text; save the file as UTF-8"
            ) from None
    raise DataError(f"{path}: holds text that is not UTF-8; save it as UTF-8")


def guess_column(columns: Sequence[str], role: str) -> str | None:
    """The column that holds `role` (a key of `COLUMN_GUESSES`: user, item, rating, weight,
    timestamp, title), matching the usual names case-insensitively; None when no name fits.

    >>> guess_column(["userId", "movieId", "rating"], "item")
    'movieId'
    """
    lowered = {column_key(c): c for c in columns}
    for guess in COLUMN_GUESSES[role]:
        if guess in lowered:
            return lowered[guess]
    if role in ("rating", "title"):  # movieRating, user_rating, Book-Title, ...
        ending = [c for low, c in lowered.items() if low.endswith(role)]
        if len(ending) == 1:
            return ending[0]
    return None


def row_count(table: Table) -> int:
    """The number of data rows of a table `read_table` returned."""
    return len(table) if isinstance(table, pd.DataFrame) else int(table.num_rows)


def column_names(table: Table) -> list[str]:
    """The column names of a table `read_table` returned, as strings."""
    names = table.columns if isinstance(table, pd.DataFrame) else table.column_names
    return [str(c) for c in names]


def column_values(table: Table, name: str) -> pd.Series:
    """One column as a Series; from Arrow or Parquet only the columns used are converted."""
    if isinstance(table, pd.DataFrame):
        return table[name]
    if isinstance(table, ParquetColumns) and (numbers := table.numbers(name)) is not None:
        return pd.Series(numbers, name=name)  # a row group at a time: no second copy
    chunked = table.column(name)
    if chunked.null_count == 0 and pa.types.is_primitive(chunked.type):
        series = pd.Series(chunked.to_numpy(), name=name)  # one copy into a numpy array
    else:
        series = chunked.to_pandas()
    del chunked
    pa.default_memory_pool().release_unused()  # hand Arrow's buffers back before the next column
    return series
