"""Files embedrec writes, in one place: nothing a user wrote is replaced unless they ask
(`force=True`, `--force`), nothing is ever left half-written, and model directories hold
weights in safetensors and everything else in JSON, never pickle.

This module knows files, not models: `Recommender.save` and `Recommender.load` turn a model into
JSON documents and named arrays and back; the functions here put those on disk atomically.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import io
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
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
PARTIAL, ASIDE = ".partial-", ".old-"  # a model being staged, the model it replaces
# the fault-injection hook of the kill test (tests/test_kill.py): called with each step's name
FAULT: Callable[[str], None] | None = None
EXCHANGE = True  # swap directories atomically where the system can (the kill test turns it off)
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except (OSError, TypeError):  # no C library to ask (the fallback rename path is used)
    _LIBC = None


def check_output(path: str | Path, force: bool = False, *, model_dir: bool = False) -> Path:
    """Refuse to write over `path` unless `force`; call it before any work starts, so a long
    run never ends in a refusal. With `force`, a model directory is replaced only when it is
    one (its `config.json` carries embedrec's format marker) and a file only when it is a file.
    """
    path = Path(path)
    if model_dir:
        recover(path)
    _check_writable(path)
    if not path.exists() and not path.is_symlink():
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


def _check_writable(path: Path) -> None:
    """Whether `path` can be written: its nearest existing ancestor is a directory in which we
    can make an entry (probed, as permissions alone miss read-only mounts and /proc)."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ModelError(f"{path}: {ancestor} is a file, not a directory")
    try:
        Path(tempfile.mkdtemp(prefix=".embedrec-probe-", dir=ancestor)).rmdir()
    except OSError as exc:
        raise ModelError(f"{path}: cannot write in {ancestor} ({exc.strerror or exc})") from None


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
    clean_leftovers(path)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}{PARTIAL}{os.getpid()}-", dir=path.parent)
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        _default_permissions(partial, 0o666)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside `path`, moved into place when the block succeeds
    (a new directory: model directories go through `write_model_dir`)."""
    path = check_output(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(path)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}{PARTIAL}{os.getpid()}-", dir=path.parent))
    try:
        yield staging
        _default_permissions(staging, 0o777)
        for file in staging.iterdir():
            _default_permissions(file, 0o666)
        os.replace(staging, path)  # check_output refused an existing directory
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


def png_bytes(figure: Any) -> bytes:
    """A matplotlib figure as PNG bytes (what a notebook shows)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def save_figure(figure: Any, path: str | Path, force: bool = False) -> Path:
    """A matplotlib figure as a PNG, written atomically."""
    with atomic_file(path, force) as partial:
        figure.savefig(partial, format="png")
    return Path(path)


def write_model_dir(
    path: str | Path, documents: dict[str, Any], arrays: dict[str, np.ndarray], force: bool = False
) -> Path:
    """A model directory: `arrays` in `weights.safetensors`, each document as `NAME.json`
    (`documents["config"]` must carry the format marker), with the sha256 of every other file
    recorded in `config.json` under `checksums`.

    The directory is staged beside `path` and put in place in one step: on Linux the old and
    the new directory are exchanged atomically (renameat2), elsewhere the old one is renamed
    aside first and, should the process die before the new one is in, restored by `recover`
    on the next load or save. Either way a complete model is at `path` at every moment a
    reader looks (or, in the fallback, after `recover`)."""
    if documents.get("config", {}).get("format") != MODEL_FORMAT:
        raise ValueError("a model directory's config needs the format marker")
    path = check_output(path, force, model_dir=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    # safetensors writes the raw buffer: a Fortran-ordered array would come back transposed
    arrays = {name: np.ascontiguousarray(value) for name, value in arrays.items()}
    staging = path.with_name(f".{path.name}{PARTIAL}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    try:
        save_arrays(arrays, str(staging / WEIGHTS))
        checksums = {WEIGHTS: _sha256(staging / WEIGHTS)}
        for name, value in documents.items():
            if name != "config":
                file = staging / f"{name}.json"
                file.write_text(json.dumps(value, indent=None if name == "ids" else 1))
                checksums[file.name] = _sha256(file)
        fault_point("staged")
        config = {**documents["config"], "checksums": checksums}
        (staging / CONFIG).write_text(json.dumps(config, indent=1))
        for file in staging.iterdir():
            _default_permissions(file, 0o666)
            _fsync(file)
        _default_permissions(staging, 0o777)
        fault_point("written")
        _put_in_place(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fault_point("done")
    return path


def read_model_dir(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON documents (by name, without `.json`) and arrays of a model directory, every
    file checked against the checksum recorded at save."""
    path = Path(path)
    recover(path)
    if not path.is_dir():
        raise ModelError(f"{path}: no such model directory")
    documents = {}
    for file in sorted(path.glob("*.json")):
        documents[file.stem] = _read_json(file)
    if CONFIG[:-5] not in documents:
        raise ModelError(f"{path} is not a model directory: {CONFIG} is missing")
    if not isinstance(documents["config"], dict):
        raise ModelError(f"{path / CONFIG}: not an embedrec model (not a JSON object)")
    if documents["config"].get("format") != MODEL_FORMAT:
        raise ModelError(f"{path / CONFIG}: not an embedrec model")
    checksums = documents["config"].get("checksums") or {}
    if not isinstance(checksums, dict):
        raise ModelError(f"{path / CONFIG}: 'checksums' is not an object")
    for name, recorded in checksums.items():
        file = path / str(name)
        if not file.is_file():
            raise ModelError(f"{file}: missing (the model directory lists it in {CONFIG})")
        if _sha256(file) != recorded:
            raise ModelError(
                f"{file}: its checksum does not match the one recorded when the model was "
                "saved (the file was changed or damaged); train the model again"
            )
    try:
        arrays = load_arrays(str(path / WEIGHTS))
    except (FileNotFoundError, SafetensorError, OSError) as exc:
        raise ModelError(f"{path / WEIGHTS}: unreadable ({exc})") from None
    return documents, arrays


def recover(path: str | Path) -> None:
    """Finish what a killed save of the model directory `path` left: when `path` is gone but
    the previous model was renamed aside (`.NAME.old-PID-…`), put it back; then remove the
    staging and aside entries of writers no longer running (`clean_leftovers`)."""
    path = Path(path)
    try:
        if path.parent.is_dir() and not path.exists() and not path.is_symlink():
            aside = sorted(
                (p for p in _leftovers(path) if p.name.startswith(f".{path.name}{ASIDE}")),
                key=lambda p: p.stat().st_mtime,
            )
            if aside and is_model_dir(aside[-1]):
                os.replace(aside[-1], path)
    except OSError:
        pass  # a read-only place: loading still works, recovery waits for a writable one
    clean_leftovers(path)


def clean_leftovers(path: str | Path) -> None:
    """Remove what interrupted writes of `path` left beside it (`.NAME.partial-PID-…` files
    and directories, `.NAME.old-PID-…` models already replaced) whose process has ended."""
    for leftover in _leftovers(Path(path)):
        try:
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        except OSError:
            pass  # another process cleaned it first, or the place is read-only


def _leftovers(path: Path) -> list[Path]:
    if not path.parent.is_dir():
        return []
    try:
        entries = list(path.parent.glob(f".{glob.escape(path.name)}.*"))
    except OSError:
        return []
    return [p for p in entries if _writer_gone(p, path.name)]


def fault_point(step: str) -> None:
    """Call the test hook `FAULT` (when set) at a step of a save: the kill test makes the
    process die here to prove every step leaves a complete model at the path."""
    if FAULT is not None:
        FAULT(step)


def _put_in_place(staging: Path, path: Path) -> None:
    if not path.exists():
        os.replace(staging, path)
        fault_point("renamed")
        return
    if EXCHANGE and _exchange(staging, path):
        fault_point("exchanged")  # staging now holds the old model, removed by the caller
        return
    aside = path.with_name(f".{path.name}{ASIDE}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.replace(path, aside)
    fault_point("aside")
    try:
        os.replace(staging, path)
    except BaseException:
        os.replace(aside, path)
        raise
    fault_point("replaced")
    shutil.rmtree(aside, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where
    the system or file system has no such call, so the caller falls back."""
    renameat2 = getattr(_LIBC, "renameat2", None) if _LIBC is not None else None
    if renameat2 is None:
        return False
    at_cwd, rename_exchange = -100, 2
    done = renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), rename_exchange)
    return done == 0


def _writer_gone(leftover: Path, name: str) -> bool:
    """Whether a `.NAME.partial-PID-…` or `.NAME.old-PID-…` entry's process has ended."""
    rest = leftover.name[len(name) + 1 :]
    for marker in (PARTIAL, ASIDE):
        if rest.startswith(marker):
            pid = rest[len(marker) :].split("-")[0]
            if not pid.isdigit():
                return False
            if int(pid) == os.getpid():
                return False  # this process's own: a save still running in another thread
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                return True
            except OSError:
                return False
            return False
    return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


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
