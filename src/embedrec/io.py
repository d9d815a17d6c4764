"""Files embedrec writes, in one place: nothing a user wrote is replaced unless they ask
(`force=True`, `--force`), nothing is ever left half-written, and model directories hold
weights in safetensors and everything else in JSON, never pickle.

This module knows files, not models: `Recommender.save` and `Recommender.load` turn a model into
JSON documents and named arrays and back; the functions here put those on disk atomically.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_arrays
from safetensors.numpy import save_file as save_arrays

from embedrec.errors import ModelError, OutputExistsError

MODEL_FORMAT = "embedrec-model"
WEIGHTS = "weights.safetensors"
CONFIG = "config.json"


def check_output(path: str | Path, force: bool = False, *, model_dir: bool = False) -> Path:
    """Refuse to write over `path` unless `force`; call it before any work starts, so a long
    run never ends in a refusal. With `force`, a model directory is replaced only when it is
    one (its `config.json` carries embedrec's format marker) and a file only when it is a file.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        if path.parent.exists() and not path.parent.is_dir():
            raise ModelError(f"{path}: {path.parent} is a file, not a directory")
        return path
    if not force:
        raise OutputExistsError(f"{path} already exists; add --force (force=True) to replace it")
    if model_dir:
        if not (path.is_dir() and is_model_dir(path)):
            raise OutputExistsError(
                f"{path} exists and is not an embedrec model directory; not replacing it "
                "even with --force (choose another directory)"
            )
    elif path.is_dir():
        raise OutputExistsError(f"{path} is a directory; --force replaces files only")
    return path


def is_model_dir(path: Path) -> bool:
    try:
        return json.loads((path / CONFIG).read_text()).get("format") == MODEL_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


@contextmanager
def atomic_file(path: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block ends without error it is renamed
    onto `path` in one step, otherwise removed. Readers see the old file or the new, never half.

    >>> with atomic_file("scores.csv") as tmp:   # doctest: +SKIP
    ...     frame.to_csv(tmp, index=False)
    """
    path = check_output(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        _default_permissions(partial, 0o666)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | Path, force: bool = False, *, model_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside `path`, moved into place when the block succeeds."""
    path = check_output(path, force, model_dir=model_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield staging
        _default_permissions(staging, 0o777)
        for file in staging.iterdir():
            _default_permissions(file, 0o666)
        _swap_into_place(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_json(path: str | Path, value: Any, force: bool = False) -> Path:
    with atomic_file(path, force) as partial:
        partial.write_text(json.dumps(value, indent=1))
    return Path(path)


def write_table(frame: pd.DataFrame, path: str | Path, force: bool = False) -> Path:
    """A DataFrame as CSV (or Parquet, by the `.parquet` suffix), written atomically."""
    with atomic_file(path, force) as partial:
        if Path(path).suffix.lower() == ".parquet":
            frame.to_parquet(partial, index=False)
        else:
            frame.to_csv(partial, index=False)
    return Path(path)


def new_figure(width: float, height: float, dpi: int) -> Any:
    """A matplotlib figure that draws to files only (no window, no pyplot state to close)."""
    # imported on use: matplotlib costs about half a second at every start, and only the
    # commands that draw need it
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=dpi)


def save_figure(figure: Any, path: str | Path, force: bool = False) -> Path:
    """A matplotlib figure as a PNG, written atomically."""
    with atomic_file(path, force) as partial:
        figure.savefig(partial, format="png")
    return Path(path)


def write_model_dir(
    path: str | Path, documents: dict[str, Any], arrays: dict[str, np.ndarray], force: bool = False
) -> Path:
    """A model directory: `arrays` in `weights.safetensors`, each document as `NAME.json`
    (`documents["config"]` must carry the format marker)."""
    if documents.get("config", {}).get("format") != MODEL_FORMAT:
        raise ValueError("a model directory's config needs the format marker")
    # safetensors writes the raw buffer: a Fortran-ordered array would come back transposed
    arrays = {name: np.ascontiguousarray(value) for name, value in arrays.items()}
    with atomic_dir(path, force, model_dir=True) as staging:
        save_arrays(arrays, str(staging / WEIGHTS))
        for name, value in documents.items():
            indent = None if name == "ids" else 1
            (staging / f"{name}.json").write_text(json.dumps(value, indent=indent))
    return Path(path)


def read_model_dir(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON documents (by name, without `.json`) and arrays of a model directory."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"{path}: no such model directory")
    documents = {}
    for file in sorted(path.glob("*.json")):
        documents[file.stem] = _read_json(file)
    if CONFIG[:-5] not in documents:
        raise ModelError(f"{path} is not a model directory: {CONFIG} is missing")
    if documents["config"].get("format") != MODEL_FORMAT:
        raise ModelError(f"{path / CONFIG}: not an embedrec model")
    try:
        arrays = load_arrays(str(path / WEIGHTS))
    except (FileNotFoundError, SafetensorError, OSError) as exc:
        raise ModelError(f"{path / WEIGHTS}: unreadable ({exc})") from None
    return documents, arrays


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({exc})") from None


def _default_permissions(path: Path, mode: int) -> None:
    """mkstemp and mkdtemp make private entries; what we save gets the usual umask modes."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


def _swap_into_place(staging: Path, path: Path) -> None:
    if not path.exists():
        os.replace(staging, path)
        return
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    os.replace(path, old)
    try:
        os.replace(staging, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)
