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
from safetensors.numpy import save_file as save_arrays

from embedrec.errors import ModelError, OutputExistsError

MODEL_FORMAT = "embedrec-model"
WEIGHTS = "weights.safetensors"
CONFIG = "config.json"
DOCUMENTS = ("ids.json", "history.json")  # a model's documents besides config.json
CHECKSUMS_SINCE = 3  # the format_version from which a model must record its checksums
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
    else:
        _inside_a_model(path)
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
        if foreign := sorted(set(_entries(path)) - model_files(path)):
            raise OutputExistsError(
                f"{path} holds files the model did not write ({', '.join(foreign[:5])}); "
                "--force replaces a model, never your files: move them out or choose another "
                "directory"
            )
    elif path.is_dir():
        raise OutputExistsError(f"{path} is a directory; --force replaces files only")
    return path


def _inside_a_model(path: Path) -> None:
    """Refuse a file inside a model directory: it holds only what the model wrote, and a file
    written there could replace one of the model's own."""
    if is_model_dir(path.parent):
        raise OutputExistsError(
            f"{path} is inside the model directory {path.parent}, which holds only the model's "
            "own files; write it elsewhere"
        )


def model_files(path: Path) -> set[str]:
    """The names of the files the model directory `path` wrote: config.json and every file it
    records a checksum of (the standard three for a model from before checksums)."""
    checksums = _config(path).get("checksums")
    named = set(checksums) if isinstance(checksums, dict) else {WEIGHTS, *DOCUMENTS}
    return {CONFIG, *map(str, named)}


def _entries(path: Path) -> list[str]:
    try:
        return [entry.name for entry in path.iterdir()]
    except OSError:
        return []


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
    return _config(path).get("format") == MODEL_FORMAT


def _config(path: Path) -> dict[str, Any]:
    """The config.json of a model directory, or {} when there is none to read."""
    file = path / CONFIG
    try:
        config = json.loads(file.read_text()) if file.is_file() else {}
    except (OSError, ValueError, RecursionError):
        return {}
    return config if isinstance(config, dict) else {}


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
        checksums = {}
        for name, value in documents.items():
            if name != "config":
                file = staging / f"{name}.json"
                file.write_text(json.dumps(value, indent=None if name == "ids" else 1))
                checksums[file.name] = sha256(file)
        # the weights record the documents' sums too: ids reordered with config.json's sum
        # recomputed still do not match the rows of the weights they name
        save_arrays(arrays, str(staging / WEIGHTS), metadata=dict(checksums))
        checksums[WEIGHTS] = sha256(staging / WEIGHTS)
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


def sha256(path: Path) -> str:
    """The "sha256:HEX" checksum a model directory records of each of its files."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ModelError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return "sha256:" + digest.hexdigest()


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _default_permissions(path: Path, mode: int) -> None:
    """mkstemp and mkdtemp make private entries; what we save gets the usual umask modes."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)
