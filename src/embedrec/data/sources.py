"""Where ratings came from, as a model directory records it: a file or folder by its absolute
path (a model evaluated from another directory still finds it), a MovieLens name as given.
`evaluate` reads a model's recorded source instead of a default data set, and asks for
`--data` only when that file has moved."""

from __future__ import annotations

from pathlib import Path

from embedrec.data.movielens import is_movielens_name


def recorded_source(data: str | Path) -> str:
    """What to record of a source: an existing path made absolute, anything else as given."""
    path = Path(data).expanduser()
    return str(path.resolve()) if path.exists() else str(data)


def source_exists(data: str | Path) -> bool:
    """Whether the source can be read: an existing file or folder, or a MovieLens name
    (downloaded on first use)."""
    return Path(data).expanduser().exists() or is_movielens_name(str(data))


def same_source(recorded: str | Path | None, given: str | Path | None) -> bool:
    """Whether two names of a source name the same one (a relative and an absolute path of
    one file do)."""
    if recorded is None or given is None:
        return False
    return str(recorded) == str(given) or recorded_source(recorded) == recorded_source(given)
