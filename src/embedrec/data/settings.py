"""Per-user settings that outlive a shell: where MovieLens folders live.

`EMBEDREC_DATA` is gone in a new terminal or a notebook kernel started elsewhere, and every
example then downloads again. `embedrec data set-dir PATH` (or `embedrec.set_data_dir(PATH)`)
writes the folder to `config.json` in the user's config folder (`$XDG_CONFIG_HOME/embedrec`,
else `~/.config/embedrec`); the MovieLens loader reads it where neither `data_dir=` /
`--data-dir` nor `EMBEDREC_DATA` says otherwise (`data_location` says which one won).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedrec import jsontext
from embedrec.errors import DataError
from embedrec.io import atomic_file

DATA_DIR_KEY = "data_dir"


def config_path() -> Path:
    """The settings file: `$XDG_CONFIG_HOME/embedrec/config.json`, else under `~/.config`."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base).expanduser() / "embedrec" / "config.json"


def read_settings() -> dict[str, Any]:
    """The saved settings ({} where none were saved); a broken file is a DataError naming it."""
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise DataError(f"{path}: cannot read embedrec's settings ({exc.strerror})") from None
    try:
        settings = jsontext.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: line {exc.lineno}, column {exc.colno}: not JSON ({exc.msg}); fix or "
            "delete the file, or write it again with `embedrec data set-dir PATH`"
        ) from None
    if not isinstance(settings, dict) or not isinstance(settings.get(DATA_DIR_KEY, ""), str):
        raise DataError(
            f'{path}: embedrec\'s settings are a JSON object such as {{"{DATA_DIR_KEY}": '
            '"/path/to/data"}; write it again with `embedrec data set-dir PATH`'
        )
    return settings


def set_data_dir(path: str | Path) -> Path:
    """Remember `path` (made absolute) as the folder MovieLens data lives in, for every later
    shell and notebook of this user; returns the settings file written.

    >>> embedrec.set_data_dir("~/data/movielens")  # doctest: +SKIP
    """
    folder = Path(path).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{path}: not a folder (MovieLens folders are unpacked inside it)")
    try:
        kept = read_settings()
    except DataError:  # a broken file is what this call is told to repair
        kept = {}
    settings = {**kept, DATA_DIR_KEY: str(folder)}
    target = config_path()
    with atomic_file(target, force=True) as partial:
        partial.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return target


@dataclass(frozen=True)
class DataLocation:
    """Where MovieLens folders are looked for and downloaded to, and what decided it."""

    path: Path
    source: str  # "argument", "EMBEDREC_DATA", "config" or "default"

    def describe(self) -> str:
        why = {
            "argument": "given as data_dir / --data-dir",
            "EMBEDREC_DATA": "from $EMBEDREC_DATA",
            "config": f"saved in {config_path()}",
            "default": "the default; `embedrec data set-dir PATH` changes it",
        }[self.source]
        return f"{self.path} ({why})"


def data_location(data_dir: str | Path | None = None) -> DataLocation:
    """The data folder: `data_dir` if given, else `$EMBEDREC_DATA`, else the saved setting,
    else `$XDG_CACHE_HOME/embedrec` (`~/.cache/embedrec`)."""
    if data_dir is not None:
        return DataLocation(Path(data_dir).expanduser(), "argument")
    if os.environ.get("EMBEDREC_DATA"):
        return DataLocation(Path(os.environ["EMBEDREC_DATA"]).expanduser(), "EMBEDREC_DATA")
    saved = read_settings().get(DATA_DIR_KEY)
    if saved:
        return DataLocation(Path(saved), "config")
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return DataLocation(Path(cache) / "embedrec", "default")
