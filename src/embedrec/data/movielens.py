"""MovieLens in every official layout, by name or by folder, downloaded when missing.

Layouts (told apart by the files in the folder):
- 100k: `u.data` (tab, no header), titles in `u.item` (latin-1, '|'), folds `u1..u5`, `ua`, `ub`;
- 1m, 10m: `ratings.dat` / `movies.dat` with '::' separators;
- 20m, 25m, 32m, latest, latest-small: `ratings.csv` / `movies.csv` with headers.

A MovieTweetings folder (sidooms/MovieTweetings: IMDb's 0-10 stars from tweets) shares the 1m
layout, and is told from it by its `users.dat` (`user_id::twitter_id`, where 1m has five
fields): read the same way, its scale is 0-10.

A name such as `movielens-100k` resolves to `<root>/ml-100k`, where root is `data_dir`, else
`$EMBEDREC_DATA`, else the folder saved by `embedrec data set-dir` (`embedrec.data.settings`),
else `~/.cache/embedrec`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

from embedrec.data.files import read_table
from embedrec.data.ratings import Ratings
from embedrec.data.settings import data_location
from embedrec.data.splits import Split
from embedrec.data.validate import ratings_from_frame, titles_for
from embedrec.errors import DataError

BASE_URL = "https://files.grouplens.org/datasets/movielens/"


@dataclass(frozen=True)
class Release:
    """One official MovieLens zip: where it lives, what it unpacks to, how to verify it."""

    folder: str  # canonical folder name under the data root
    zip_name: str
    rating_scale: tuple[float, float]
    size: int | None = None  # bytes, where a fixed checksum is published
    sha256: str | None = None


# Sizes and SHA-256 as recorded by TensorFlow Datasets' checksum list; ml-latest changes over
# time and 10m/32m have no such record, so those are verified by length and zip CRCs only.
RELEASES = {
    "100k": Release(
        "ml-100k",
        "ml-100k.zip",
        (1, 5),
        4924029,
        "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
    ),
    "1m": Release(
        "ml-1m",
        "ml-1m.zip",
        (1, 5),
        5917549,
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    ),
    "10m": Release("ml-10m", "ml-10m.zip", (0.5, 5)),
    "20m": Release(
        "ml-20m",
        "ml-20m.zip",
        (0.5, 5),
        198702078,
        "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
    ),
    "25m": Release(
        "ml-25m",
        "ml-25m.zip",
        (0.5, 5),
        261978986,
        "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
    ),
    "32m": Release("ml-32m", "ml-32m.zip", (0.5, 5)),
    "latest": Release("ml-latest", "ml-latest.zip", (0.5, 5)),
    "latest-small": Release(
        "ml-latest-small",
        "ml-latest-small.zip",
        (0.5, 5),
        978202,
        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    ),
}
FOLDS_100K = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
_LATIN1_FOLDERS = ("ml-100k", "ml-1m")
# u.item's 19 genre flags, in u.genre's order; the later releases write "A|B" themselves
GENRES_100K = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
NO_GENRES = "(no genres listed)"


def is_movielens_name(name: str) -> bool:
    return release_key(name) is not None


def release_key(name: str) -> str | None:
    """'movielens-100k', 'ml-100k' and 'ml100k' all name the 100k release."""
    lowered = name.strip().lower()
    for prefix in ("movielens-", "movielens", "ml-", "ml"):
        if lowered.startswith(prefix) and lowered[len(prefix) :] in RELEASES:
            return lowered[len(prefix) :]
    return None


def data_root(data_dir: str | Path | None = None) -> Path:
    """Where MovieLens folders live (`embedrec.data.settings.data_location`)."""
    return data_location(data_dir).path


def movielens_folder(name: str, data_dir: str | Path | None = None, download: bool = True) -> Path:
    """The folder holding a named release, downloading and unpacking it if it is missing."""
    key = release_key(name)
    if key is None:
        known = ", ".join(f"movielens-{k}" for k in RELEASES)
        raise DataError(f"unknown MovieLens release {name!r}; known: {known}")
    release = RELEASES[key]
    root = data_root(data_dir)
    folder = root / release.folder
    if key == "10m" and not folder.is_dir() and (root / "ml-10M100K").is_dir():
        folder = root / "ml-10M100K"  # the name the official zip unpacks to
    if folder.is_dir():
        return folder
    if not download:
        raise DataError(f"MovieLens {key} not found at {folder}")
    return _download(release, root)


def load_movielens(
    name_or_path: str | Path, data_dir: str | Path | None = None, download: bool = True
) -> Ratings:
    """All ratings of a MovieLens release (by name or folder) or a MovieTweetings folder, with
    titles joined.

    >>> ratings = load_movielens("movielens-100k")  # doctest: +SKIP
    >>> ratings.crosstab(5, 5)  # doctest: +SKIP
    """
    folder = _folder(name_or_path, data_dir, download)
    layout = detect_layout(folder)
    scale = _scale(folder, layout)
    if layout == "100k":
        ratings = _read_100k_file(folder / "u.data", scale)
    elif layout == "dat":
        frame, where = read_table(
            folder / "ratings.dat",
            sep="::",
            names=_DAT_NAMES,
            encoding="latin-1",
            quoted=False,
            arrow=True,
        )
        ratings = ratings_from_frame(frame, rating_scale=scale, where=where, **_COLS)
    else:
        frame, where = read_table(folder / "ratings.csv", sep=",", arrow=True)
        ratings = ratings_from_frame(frame, rating_scale=scale, where=where, **_COLS)
    ratings.titles, ratings.genres = _titles(folder, layout, ratings)
    ratings.source = str(folder)
    return ratings


MOVIELENS_RATINGS = ("u.data", "ratings.dat", "ratings.csv")


def is_movielens_zip(path: Path) -> bool:
    """A zip holding one MovieLens folder (as the official downloads do)."""
    if path.suffix.lower() != ".zip" or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(Path(name).name in MOVIELENS_RATINGS and name.count("/") == 1 for name in names)


@contextmanager
def unzipped_movielens(path: Path) -> Iterator[Path]:
    """The MovieLens folder inside a zip, unpacked to a temporary folder for the load."""
    with tempfile.TemporaryDirectory(prefix="embedrec-movielens-") as tmp:
        try:
            with zipfile.ZipFile(path) as archive:
                archive.extractall(tmp)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"{path}: not a readable zip ({exc})") from None
        tops = [p for p in Path(tmp).iterdir() if p.is_dir()]
        if len(tops) != 1:
            raise DataError(f"{path}: a MovieLens zip holds one folder, this one {len(tops)}")
        yield tops[0]


def detect_layout(folder: Path) -> str:
    if (folder / "u.data").is_file():
        return "100k"
    if (folder / "ratings.dat").is_file():
        return "dat"
    if (folder / "ratings.csv").is_file():
        return "csv"
    raise DataError(
        f"{folder} is not a MovieLens folder: expected u.data (100k), ratings.dat (1m, 10m) "
        "or ratings.csv (20m, 25m, 32m, latest)"
    )


_DAT_NAMES = ["user", "item", "rating", "timestamp"]
_COLS = dict(user_col=None, item_col=None, rating_col=None, timestamp_col=None, title_col=None)


def _folder(name_or_path: str | Path, data_dir: str | Path | None, download: bool) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if isinstance(name_or_path, str) and is_movielens_name(name_or_path):
        return movielens_folder(name_or_path, data_dir, download)
    raise DataError(f"{name_or_path}: neither a MovieLens folder nor a release name")


def is_movietweetings(folder: Path) -> bool:
    """Whether a '::' folder is MovieTweetings: its users.dat holds `user_id::twitter_id`."""
    users = folder / "users.dat"
    if not users.is_file():
        return False
    with users.open("rb") as handle:
        return handle.readline().count(b"::") == 1


def _scale(folder: Path, layout: str) -> tuple[float, float]:
    if layout == "100k" or folder.name == "ml-1m":
        return (1.0, 5.0)
    if layout == "dat" and is_movietweetings(folder):
        return (0.0, 10.0)  # IMDb's stars, 0 included (sidooms/MovieTweetings's README)
    if layout == "dat":
        head = (folder / "ratings.dat").read_bytes()[:200_000]
        whole_stars = b".5::" not in head
        return (1.0, 5.0) if whole_stars and folder.name != "ml-10M100K" else (0.5, 5.0)
    return (0.5, 5.0)


def _read_100k_file(path: Path, scale: tuple[float, float]) -> Ratings:
    frame, where = read_table(path, sep="\t", names=_DAT_NAMES, quoted=False, arrow=True)
    return ratings_from_frame(frame, rating_scale=scale, where=where, **_COLS)


def _titles(
    folder: Path, layout: str, ratings: Ratings
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(titles, genres) aligned with the item map; genres as "Action|Comedy" ('' when none)."""
    if layout == "100k":
        path, sep, quoted = folder / "u.item", "|", False
        names = ["item", "title", "release", "video", "url"] + [f"g{i}" for i in range(19)]
    elif layout == "dat":
        path, sep, quoted, names = folder / "movies.dat", "::", False, ["item", "title", "genres"]
    else:
        path, sep, quoted, names = folder / "movies.csv", ",", True, None
    if not path.is_file():
        return None, None
    encoding = "latin-1" if folder.name in _LATIN1_FOLDERS else "utf-8"
    try:
        frame, _ = read_table(path, sep=sep, names=names, encoding=encoding, quoted=quoted)
    except DataError:
        if encoding == "latin-1":
            raise
        frame, _ = read_table(path, sep=sep, names=names, encoding="latin-1", quoted=quoted)
    item_col = "item" if names else "movieId"
    titles = titles_for(ratings.item_map, frame[item_col], frame["title"])
    if layout == "100k":
        flags = frame[[f"g{i}" for i in range(19)]].to_numpy(dtype=bool)
        genres = ["|".join(GENRES_100K[j] for j in np.flatnonzero(row)) for row in flags]
    elif "genres" in frame:
        genres = frame["genres"].fillna("").astype(str).replace(NO_GENRES, "").tolist()
    else:
        return titles, None
    return titles, titles_for(ratings.item_map, frame[item_col], genres)


def load_movielens_fold(
    name_or_path: str | Path, fold: str = "u1", data_dir: str | Path | None = None
) -> Split:
    """A canonical ML-100k fold (`u1`..`u5`, `ua`, `ub`) as a `Split`, ids encoded as in `u.data`
    so a model trained on one fold speaks the same ids as any other."""
    folder = _folder(name_or_path, data_dir, download=True)
    if detect_layout(folder) != "100k":
        raise DataError(f"canonical folds exist only for MovieLens 100k; {folder} is not 100k")
    if fold not in FOLDS_100K:
        raise DataError(f"unknown fold {fold!r}; MovieLens 100k has {', '.join(FOLDS_100K)}")
    full = load_movielens(folder)
    sides = []
    for part in ("base", "test"):
        path = folder / f"{fold}.{part}"
        if not path.is_file():
            raise DataError(f"{path}: missing (the {fold} fold needs {fold}.base and {fold}.test)")
        frame, where = read_table(path, sep="\t", names=_DAT_NAMES, quoted=False)
        side = ratings_from_frame(frame, rating_scale=full.rating_scale, where=where, **_COLS)
        users = full.user_map.indexer(side.user_map.decode(side.users))
        items = full.item_map.indexer(side.item_map.decode(side.items))
        if (users < 0).any() or (items < 0).any():
            raise DataError(f"{path}: holds ids that u.data does not")
        sides.append(
            Ratings(
                users=users,
                items=items,
                ratings=side.ratings,
                user_map=full.user_map,
                item_map=full.item_map,
                timestamps=side.timestamps,
                titles=full.titles,
                genres=full.genres,
                rating_scale=full.rating_scale,
                source=str(path),
            )
        )
    return Split(train=sides[0], valid=sides[1], name=f"ml100k-{fold}")


def _download(release: Release, root: Path) -> Path:
    url = BASE_URL + release.zip_name
    target = root / release.folder
    advice = (
        f"Download {url} yourself and unzip it so that {target} holds its files, "
        "or point --data-dir / EMBEDREC_DATA / `embedrec data set-dir` at a folder that "
        "already has it."
    )
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
            archive = Path(tmp) / release.zip_name
            _fetch(url, archive, release)
            _verify(archive, release)
            unpacked = Path(tmp) / "unpacked"
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(unpacked)
            tops = [p for p in unpacked.iterdir() if p.is_dir()]
            if len(tops) != 1:
                raise DataError(f"{url}: unexpected archive layout")
            os.replace(tops[0], target)  # atomic: the folder appears complete or not at all
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise DataError(f"could not download MovieLens from {url} ({exc}). {advice}") from None
    except OSError as exc:
        raise DataError(f"could not store MovieLens under {root} ({exc}). {advice}") from None
    return target


def _fetch(url: str, dest: Path, release: Release) -> None:
    with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or release.size
        with Progress(
            *Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), transient=True
        ) as progress:
            task = progress.add_task(f"downloading {release.zip_name}", total=total)
            while chunk := response.read(1 << 20):
                out.write(chunk)
                progress.update(task, advance=len(chunk))
    if total and dest.stat().st_size != total:
        raise DataError(f"{url}: download stopped at {dest.stat().st_size} of {total} bytes")


def _verify(archive: Path, release: Release) -> None:
    if release.size is not None and archive.stat().st_size != release.size:
        raise DataError(f"{archive.name}: {archive.stat().st_size} bytes, expected {release.size}")
    if release.sha256 is not None:
        digest = hashlib.sha256()
        with open(archive, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != release.sha256:
            raise DataError(f"{archive.name}: checksum mismatch; the download is corrupt")
    try:
        with zipfile.ZipFile(archive) as zf:
            broken = zf.testzip()
    except zipfile.BadZipFile:
        broken = archive.name
    if broken is not None:
        raise DataError(f"{archive.name}: corrupt archive member {broken}")
