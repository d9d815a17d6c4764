"""Reading a model directory back, every file checked: the checksums config.json records, the
documents' sums the weights record, and only the files the model wrote (anything else a user
keeps in the folder is left alone). Writing, and the crash safety of a replace, is `io`'s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file as load_arrays

from embedrec import io
from embedrec.errors import ModelError


def read_model_dir(
    path: str | Path, mapped: bool = False
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON documents (by name, without `.json`) and arrays of a model directory, every
    file checked against the checksum recorded at save. Only the model's own files are read:
    anything else in the directory (notes, a scores.json, a folder, a FIFO) is left alone.
    `mapped`: the arrays are read-only views of the weights file mapped into memory, so the
    processes serving one model share its pages (and a file replaced later keeps its old
    contents for the views: `io` writes a new file and renames it over the old one)."""
    path = Path(path)
    io.recover(path)
    if not path.is_dir():
        what = "not a directory" if path.exists() else "no such model directory"
        raise ModelError(f"{path}: {what}")
    if not (path / io.CONFIG).exists():
        raise ModelError(f"{path} is not a model directory: {io.CONFIG} is missing")
    config = _read_json(path / io.CONFIG)
    if not isinstance(config, dict):
        raise ModelError(f"{path / io.CONFIG}: not an embedrec model (not a JSON object)")
    if config.get("format") != io.MODEL_FORMAT:
        raise ModelError(f"{path / io.CONFIG}: not an embedrec model")
    checksums = _checksums(path, config)
    names = [n for n in checksums if n.endswith(".json")] if checksums else list(io.DOCUMENTS)
    documents = {"config": config}
    for name in names:
        if (path / name).exists() or checksums:
            documents[name[:-5]] = _read_json(path / name)
    try:
        with safe_open(str(path / io.WEIGHTS), "np") as weights:  # checks the header
            bound = weights.metadata() or {}
        arrays = _mapped(path / io.WEIGHTS) if mapped else load_arrays(str(path / io.WEIGHTS))
    except (FileNotFoundError, SafetensorError, OSError) as exc:
        raise ModelError(f"{path / io.WEIGHTS}: unreadable ({exc})") from None
    for name, recorded in bound.items():
        if checksums and checksums.get(name) != recorded:
            raise ModelError(
                f"{path / name}: does not match the weights it was saved with (its checksum "
                f"differs from the one in {io.WEIGHTS}); the file was changed: train the model "
                "again"
            )
    return documents, arrays


# safetensors' dtype names, as numpy's (those embedrec writes, and their kin)
DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}  # fmt: skip


def _mapped(file: Path) -> dict[str, np.ndarray]:
    """A safetensors file's tensors as read-only views of the file mapped into memory (its
    layout: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
    shape and byte range, then the bytes), the header checked by safetensors already."""
    with file.open("rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(length))
    data = np.memmap(file, dtype=np.uint8, mode="r")
    start = 8 + length
    arrays = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in DTYPES:
            raise ModelError(f"{file}: the tensor {name!r} is {info['dtype']}, not a numpy type")
        low, high = info["data_offsets"]
        view: np.ndarray = data[start + low : start + high].view(DTYPES[info["dtype"]])
        arrays[name] = view.reshape(info["shape"])
    return arrays


def _checksums(path: Path, config: dict[str, Any]) -> dict[str, str]:
    """config.json's checksums, every file they name verified; {} for a model from before
    checksums (format_version below io.CHECKSUMS_SINCE), and a ModelError for a newer one that
    lacks them."""
    checksums = config.get("checksums")
    version = config.get("format_version")
    if checksums is None and isinstance(version, int) and version >= io.CHECKSUMS_SINCE:
        raise ModelError(
            f"{path / io.CONFIG}: 'checksums' is missing (format {version} records one for every "
            "file); the directory was edited: train the model again"
        )
    if checksums is None:
        return {}
    if not isinstance(checksums, dict):
        raise ModelError(f"{path / io.CONFIG}: 'checksums' is not an object")
    for name, recorded in checksums.items():
        file = path / str(name)
        if not file.is_file():
            raise ModelError(f"{file}: missing (the model directory lists it in {io.CONFIG})")
        if io.sha256(file) != recorded:
            raise ModelError(
                f"{file}: its checksum does not match the one recorded when the model was "
                "saved (the file was changed or damaged); train the model again"
            )
    return {str(name): str(value) for name, value in checksums.items()}


def _read_json(path: Path) -> Any:
    if not path.is_file():  # a FIFO would block the read, a folder fail it
        what = "not a regular file" if path.exists() else "missing"
        raise ModelError(f"{path}: {what}")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({exc})") from None
    except RecursionError:
        raise ModelError(f"{path}: unreadable (nested too deeply to be a model's file)") from None
