"""The bytes of a possibly compressed file: `.gz`, `.bz2`, `.xz`, `.zst`, single-member `.zip`.

Python's own gzip, bz2 and zipfile modules do the work; zstandard goes through pyarrow's codec
when pyarrow was built with it. Every failure is a `DataError` naming the file.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import zipfile
import zlib
from pathlib import Path

import pyarrow as pa

from embedrec.errors import DataError

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip")


def inner_suffix(path: Path) -> str:
    """The suffix of the file inside: '.csv' for ratings.csv.gz, '.parquet' for r.parquet."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The whole (decompressed) content of `path`; a compressed file whose name does not say
    so (ratings.csv holding gzip) is recognised by its first bytes. Decompression stops at
    `limit` bytes (default: `decompressed_limit()`): a DataError naming the file and the size,
    where a small bomb would otherwise fill the memory."""
    suffix = path.suffix.lower()
    if suffix not in COMPRESSED_SUFFIXES and suffix not in UNSUPPORTED:
        suffix = _sniffed(path)
    if suffix in UNSUPPORTED:
        raise DataError(
            f"{path}: {UNSUPPORTED[suffix]} files are not read; decompress it and give the "
            "ratings file (.csv, .tsv, .parquet, or .gz, .bz2, .xz, .zst, a one-file .zip)"
        )
    limit = decompressed_limit() if limit is None else limit
    try:
        if suffix in STREAMS:
            with STREAMS[suffix](path) as stream:
                raw = stream.read(limit + 1)
        elif suffix == ".zst":
            raw = _zstd(path, limit)
        elif suffix == ".zip":
            raw = _zip_member(path, limit)
        else:
            raw = path.read_bytes()
    except DataError:
        raise
    except READ_ERRORS as exc:
        kind = suffix.lstrip(".") or "text"
        raise DataError(f"{path}: not a readable {kind} file ({exc})") from None
    if len(raw) > limit and suffix:
        raise DataError(
            f"{path}: decompresses to more than {limit:,} bytes from "
            f"{path.stat().st_size:,}, more than this machine reads safely (a quarter of its "
            "memory); give a smaller file, or split it"
        )
    if _is_tar(raw):
        raise DataError(f"{path}: a tar archive; extract it and give the ratings file inside")
    return raw


def decompressed_limit() -> int:
    """The most bytes a compressed file may expand to: a quarter of this machine's memory
    (parsing needs several times the text), and at most 16 GiB."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        memory = 16 * 2**30
    return int(min(memory // 4, 16 * 2**30))


def _is_tar(raw: bytes) -> bool:
    return raw[257:262] == b"ustar"


# what a damaged or unusual compressed file raises while it is read
READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    RuntimeError,  # an encrypted zip member
    NotImplementedError,  # a zip compression Python lacks (Deflate64, ...)
    lzma.LZMAError,
    zlib.error,
    zipfile.BadZipFile,
    pa.ArrowException,
)

# formats read as one stream; .zst goes through pyarrow, .zip must hold one member
STREAMS = {
    ".gz": lambda p: gzip.open(p, "rb"),
    ".bz2": lambda p: bz2.open(p, "rb"),
    ".xz": lambda p: lzma.open(p, "rb"),
}
UNSUPPORTED = {".7z": "7-Zip", ".rar": "RAR", ".tar": "tar", ".tgz": "tar", ".lz4": "LZ4"}

# the first bytes of each compressed format (a zip also starts a .docx: it must hold one file)
MAGIC = {
    b"\x1f\x8b": ".gz",
    b"BZh": ".bz2",
    b"\xfd7zXZ": ".xz",
    b"\x28\xb5\x2f\xfd": ".zst",
    b"PK\x03\x04": ".zip",
    b"7z\xbc\xaf": ".7z",
    b"Rar!": ".rar",
}


def _sniffed(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            start = handle.read(6)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return next((suffix for magic, suffix in MAGIC.items() if start.startswith(magic)), "")


def _zstd(path: Path, limit: int) -> bytes:
    if not pa.Codec.is_available("zstd"):
        raise DataError(
            f"{path}: this pyarrow has no zstandard codec; decompress the file first "
            "(zstd -d) or install a pyarrow built with zstd"
        )
    with pa.CompressedInputStream(pa.OSFile(str(path)), "zstd") as stream:
        return stream.read(limit + 1)


def _zip_member(path: Path, limit: int) -> bytes:
    """The first `limit` + 1 bytes of the one ratings file in the zip."""
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
        member = members[0].filename
        if Path(member).suffix.lower() in (*COMPRESSED_SUFFIXES, *UNSUPPORTED):
            raise DataError(
                f"{path}: its member {member!r} is compressed again; unzip it and give that file"
            )
        try:
            with archive.open(members[0]) as stream:
                return stream.read(limit + 1)
        except READ_ERRORS as exc:
            raise DataError(
                f"{path}: its member {member!r} cannot be read ({type(exc).__name__}: {exc}); "
                "unzip it with another tool and give the file"
            ) from None
