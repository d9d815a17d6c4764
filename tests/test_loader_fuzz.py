"""Property-based fuzz of the ratings file loader: whatever bytes a file holds, `read_ratings`
either returns valid `Ratings` (finite float32 ratings, codes inside their id maps) or raises
our own `DataError` naming the file. Bounded (a fixed number of examples, no deadline) so it
runs in CI in seconds.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import embedrec

# an exception inside pyarrow's callbacks is printed ("Exception ignored in ...") as a traceback
# and a RuntimeWarning (an invalid cast) is a number silently made wrong
pytestmark = [
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("error::RuntimeWarning"),
]

FIELDS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "nan", "NaN", "inf", "1e39", "-0", "1,5", '"a,b"', '"', "null"]),
    st.sampled_from(["2020-01-01", "2020-13-45", "12:00", "0x10", "五", "é", "\t", "::"]),
    st.text(max_size=6),
)
SEPARATORS = st.sampled_from([",", "\t", ";", "|", "::", " ", "  "])
HEADERS = st.sampled_from(
    [
        None,
        ["user", "item", "rating"],
        ["userId", "movieId", "rating", "timestamp"],
        ["user", "item", "rating", "title"],
        ["customer", "sku", "stars"],
        ["a", "b"],
        ["user", "user", "rating"],
    ]
)


@st.composite
def rating_files(draw) -> bytes:
    sep = draw(SEPARATORS)
    header = draw(HEADERS)
    width = len(header) if header else draw(st.integers(1, 5))
    rows = draw(
        st.lists(
            st.lists(FIELDS, min_size=max(1, width - 1), max_size=width + 1),
            min_size=0,
            max_size=12,
        )
    )
    lines = ([sep.join(header)] if header else []) + [sep.join(row) for row in rows]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff"])) + data
    if draw(st.integers(0, 9)) == 0:  # a stray byte that is not UTF-8 somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\xfe" + data[at:]
    return data


NAMES = st.sampled_from(["r.csv", "r.tsv", "r.dat", "r.txt", "r.csv.gz", "r.csv.bz2", "r.parquet"])


def check(path: Path) -> None:
    try:
        ratings = embedrec.read_ratings(path)
    except embedrec.DataError as exc:
        assert path.name in str(exc), f"the error does not name the file: {exc}"
        assert "\n" not in str(exc).strip(), f"the error is not one line: {exc!r}"
        return
    assert len(ratings) > 0
    assert ratings.ratings.dtype == np.float32 and np.isfinite(ratings.ratings).all()
    assert 0 <= ratings.users.min() and ratings.users.max() < ratings.n_users
    assert 0 <= ratings.items.min() and ratings.items.max() < ratings.n_items


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=rating_files(), name=NAMES, compress=st.booleans())
def test_any_delimited_file_loads_or_fails_with_our_error_naming_it(
    fuzz_dir, content, name, compress
):
    path = fuzz_dir / name
    if name.endswith(".gz") and compress:
        content = gzip.compress(content)
    elif name.endswith(".bz2") and compress:
        content = bz2.compress(content)
    path.write_bytes(content)
    check(path)


@settings(max_examples=100, deadline=None)
@given(content=st.binary(max_size=400), name=NAMES)
def test_any_bytes_at_all_load_or_fail_with_our_error_naming_it(fuzz_dir, content, name):
    path = fuzz_dir / ("bytes-" + name)
    path.write_bytes(content)
    check(path)


def _zipped(data: bytes, method: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        archive.writestr("r.csv", data)
    return buffer.getvalue()


ROWS = (b"u%d,%d,%d\n" % (k % 7, k % 11, 1 + k % 5) for k in range(60))
GOOD = b"user,item,rating\n" + b"".join(ROWS)
# (file name, bytes): every container the reader opens, each holding a good file
CONTAINERS = [
    ("r.csv.gz", gzip.compress(GOOD)),
    ("r.csv.bz2", bz2.compress(GOOD)),
    ("r.csv.xz", lzma.compress(GOOD)),
    ("r.zip", _zipped(GOOD, zipfile.ZIP_DEFLATED)),
    ("r.zip", _zipped(GOOD, zipfile.ZIP_LZMA)),
    ("r.zip", _zipped(GOOD, zipfile.ZIP_BZIP2)),
    ("r.csv", _zipped(GOOD, zipfile.ZIP_DEFLATED)),  # a zip under a .csv name
]


@st.composite
def damaged_containers(draw) -> tuple[str, bytes]:
    """A good container with bytes changed, cut off or inserted, as a bad disk or a broken
    download leaves it (Deflate64, encryption and a corrupt LZMA member once crashed here)."""
    name, data = draw(st.sampled_from(CONTAINERS))
    raw = bytearray(data)
    how = draw(st.sampled_from(["flip", "cut", "insert"]))
    if how == "flip":
        for at in draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8)):
            raw[at] = draw(st.integers(0, 255))
    elif how == "cut":
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    else:
        at = draw(st.integers(0, len(raw)))
        raw[at:at] = draw(st.binary(min_size=1, max_size=20))
    return name, bytes(raw)


@settings(max_examples=150, deadline=None)
@given(case=damaged_containers())
def test_a_damaged_compressed_file_loads_or_fails_with_our_error_naming_it(fuzz_dir, case):
    name, content = case
    path = fuzz_dir / ("damaged-" + name)
    path.write_bytes(content)
    check(path)
