"""Tables in formats other than delimited text and Parquet: JSON read by pandas, spreadsheets
refused with what to do instead.

JSON comes as JSON Lines (one object a line, what logs and exports write: `.jsonl`, `.ndjson`,
or `.json`) or as one array of objects (`[{"user": 1, "item": 5, "rating": 4}, ...]`), plain or
compressed like the text formats. Values keep their JSON types (an id "0012" stays text).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from embedrec.data.compressed import read_bytes
from embedrec.errors import DataError

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
SPREADSHEETS = {
    ".xlsx": "an Excel workbook",
    ".xlsm": "an Excel workbook",
    ".xls": "an Excel workbook",
    ".ods": "an OpenDocument spreadsheet",
    ".numbers": "a Numbers spreadsheet",
}


def refuse_spreadsheet(path: Path, suffix: str) -> None:
    """A spreadsheet is not read (its cells carry formats, dates and formulas a CSV export
    settles): a DataError saying how to export it."""
    if suffix in SPREADSHEETS:
        raise DataError(
            f"{path}: {SPREADSHEETS[suffix]}, which is not read; save its sheet as CSV (UTF-8) "
            "and give that file"
        )


def read_json_table(path: Path) -> tuple[pd.DataFrame, int | None]:
    """A JSON Lines file or a JSON array of objects as a DataFrame, and the file line of its
    first row: known for JSON Lines without blank lines between objects, else None (errors
    then name rows)."""
    raw = read_bytes(path).removeprefix(b"\xef\xbb\xbf")  # a UTF-8 mark (Notepad's) is no value
    body = raw.strip()
    lines = not body.startswith(b"[")
    try:
        frame = pd.read_json(io.BytesIO(body), lines=lines, dtype=False)
    except ValueError as exc:
        form = "JSON Lines (one object a line)" if lines else "a JSON array of objects"
        raise DataError(f"{path}: not readable as {form} ({exc})") from None
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise DataError(f"{path}: no ratings (no objects in the JSON)")
    by_line = lines and b"\n\n" not in body.replace(b"\r\n", b"\n")
    leading = raw[: len(raw) - len(raw.lstrip())].count(b"\n")  # blank lines before the first
    return frame, (1 + leading if by_line else None)
