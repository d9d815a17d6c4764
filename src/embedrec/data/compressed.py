"""The bytes of a possibly compressed file: `.gz`, `.bz2`, `.zst` and single-member `.zip`.

Python's own gzip, bz2 and zipfile modules do the work; zstandard goes through pyarrow's codec
when pyarrow was built with it. Every failure is a `DataError` naming the file.
"""

from __future__ import annotations

import bz2
import gzip
import zipfile
import zlib
from pathlib import Path

import pyarrow as pa

from embedrec.errors import DataError

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zst", ".zip")


def inner_suffix(path: Path) -> str:
    """The suffix of the file inside: '.csv' for ratings.csv.gz, '.parquet' for r.parquet."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def read_bytes(path: Path) -> bytes:
    """The whole (decompressed) content of `path`; a compressed file whose name does not say
    so (ratings.csv holding gzip) is recognised by its first bytes."""
    suffix = path.suffix.lower()
    if suffix not in COMPRESSED_SUFFIXES:
        suffix = _sniffed(path)
    try:
        if suffix == ".gz":
            return gzip.decompress(path.read_bytes())
        if suffix == ".bz2":
            return bz2.decompress(path.read_bytes())
        if suffix == ".zst":
            return _zstd(path)
        if suffix == ".zip":
            return _zip_member(path)
        return path.read_bytes()
    except DataError:
        raise
    except (
        OSError,
        EOFError,
        ValueError,
        zlib.error,
        zipfile.BadZipFile,
        pa.ArrowException,
    ) as exc:
        kind = suffix.lstrip(".") or "text"
        raise DataError(f"{path}: not a readable {kind} file ({exc})") from None


# the first bytes of each compressed format (a zip also starts a .docx: it must hold one file)
MAGIC = {b"\x1f\x8b": ".gz", b"BZh": ".bz2", b"\x28\xb5\x2f\xfd": ".zst", b"PK\x03\x04": ".zip"}


def _sniffed(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            start = handle.read(4)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return next((suffix for magic, suffix in MAGIC.items() if start.startswith(magic)), "")


def _zstd(path: Path) -> bytes:
    if not pa.Codec.is_available("zstd"):
        raise DataError(
            f"{path}: this pyarrow has no zstandard codec; decompress the file first "
            "(zstd -d) or install a pyarrow built with zstd"
        )
    with pa.CompressedInputStream(pa.OSFile(str(path)), "zstd") as stream:
        return stream.read()


def _zip_member(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir() and not m.filename.startswith("__MACOSX/")
        ]
        if len(members) != 1:
            names = ", ".join(m.filename for m in members[:5]) or "none"
            raise DataError(
                f"{path}: a zip must hold exactly one ratings file, this one holds "
                f"{len(members)} ({names}); unzip it and name the file with --data"
            )
        return archive.read(members[0])
