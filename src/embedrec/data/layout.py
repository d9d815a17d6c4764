"""The layout of a delimited text file: its separator (detected or named) and whether its first
line is a header, with the names a headerless file's columns get. `embedrec.data.files` reads
with what this module decides; it imports nothing of embedrec but the errors.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence

from embedrec.errors import DataError

SEPARATORS = ("::", "\t", ",", ";", "|")
WHITESPACE = "whitespace"  # one or more spaces or tabs between fields
SEP_NAMES = {
    "::": "'::'",
    "\t": "tab",
    ",": "comma",
    ";": "semicolon",
    "|": "pipe",
    WHITESPACE: "whitespace",
}
# What sep= / --sep accepts for runs of spaces or tabs.
WHITESPACE_NAMES = (WHITESPACE, "space", "spaces", " ", r"\s+")


def detect_separator(sample: str, source: str = "the input") -> str:
    """The separator of a delimited text sample: '::' first, then the most consistent of tab,
    comma, semicolon and pipe, then runs of spaces or tabs (`WHITESPACE`).

    >>> detect_separator("1::2::5\\n")
    '::'
    >>> detect_separator("1  2 5\\n")
    'whitespace'
    """
    unquoted = re.sub(r'"[^"\n]*"', '""', sample)  # a quoted title may hold any separator
    lines = [line for line in unquoted.splitlines()[:20] if line.strip()]
    if not lines:
        raise DataError(f"{source}: cannot detect the separator of an empty file")
    if all("::" in line for line in lines):
        return "::"
    best, best_count = None, 0
    for sep in SEPARATORS[1:]:
        counts = {line.count(sep) for line in lines[:-1] or lines}
        if len(counts) == 1 and (count := counts.pop()) > best_count:
            best, best_count = sep, count
    if best is None:
        widths = {len(re.split(r"[ \t]+", line.strip())) for line in lines[:-1] or lines}
        if len(widths) == 1 and widths.pop() > 1:
            return WHITESPACE
        first = next(line for line in sample.splitlines() if line.strip())
        raise DataError(
            f"{source}: could not detect the separator (tried '::', tab, comma, semicolon, "
            f"pipe, whitespace) from the first line {first[:80]!r}; name it with sep= / --sep"
        )
    return best


def split_whitespace(raw: bytes) -> bytes:
    """Runs of spaces and tabs as one tab, none at the start or end of a line."""
    raw = re.sub(rb"^[ \t]+|[ \t]+(?=\r?$)", b"", raw, flags=re.MULTILINE)
    return re.sub(rb"[ \t]+", b"\t", raw)


def first_fields(raw: bytes, sep: str, encoding: str, quoted: bool) -> tuple[str, list[str]]:
    """The first non-empty line of `raw` and its fields."""
    for line in raw[:65536].decode(encoding, errors="replace").splitlines():
        if line.strip():
            if quoted:
                return line, next(csv.reader([line], delimiter=sep))
            return line, next(csv.reader([line], delimiter=sep, quoting=csv.QUOTE_NONE))
    return "", []


def is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text.strip()))
    except ValueError:
        return False


def headerless_names(fields: list[str]) -> list[str]:
    """Names for a file without a header: user, item, rating by position, then the position
    ('3', '4', ...), except a later column of dates (or a 4th column of integers, MovieLens's
    u.data) is the timestamp.

    >>> headerless_names(["1", "7", "4", "2005-09-06", "x"])
    ['user', 'item', 'rating', 'timestamp', '4']
    """
    names = ["user", "item", "rating"][: len(fields)] + [str(i) for i in range(3, len(fields))]
    for i in range(3, len(fields)):
        value = fields[i].strip()
        if _DATE.match(value) or (len(fields) == 4 and value.isdigit()):
            names[i] = "timestamp"
            break
    return names


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?")


def duplicated_name(names: Sequence[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def column_key(name: object) -> str:
    """A column's name as guesses match it: `User-ID` and `user id` are `user_id`."""
    return str(name).lower().replace("-", "_").replace(" ", "_")
