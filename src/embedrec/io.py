"""Model directories: weights in safetensors, everything else in JSON, never pickle.

A model directory holds
- `weights.safetensors`: the model's state dict (`model.*`), the bias baseline and the
  per-user/per-item training counts;
- `config.json`: format version, model name and config, training config, rating scale;
- `ids.json`: raw user and item ids in index order, and item titles;
- `history.json`: the epoch table.

It is written to a temporary sibling and renamed into place, so a crash never leaves half a
model, and an existing directory is replaced only when the caller says so.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_numpy
from safetensors.numpy import save_file as save_numpy

from embedrec.data.ratings import IdMap
from embedrec.errors import ModelError
from embedrec.models import build_model, model_name
from embedrec.models.baseline import BiasBaseline
from embedrec.recommender import Recommender
from embedrec.training.config import TrainConfig
from embedrec.training.progress import EpochStats

FORMAT = "embedrec-model"
FORMAT_VERSION = 1
FILES = ("weights.safetensors", "config.json", "ids.json", "history.json")


def save_recommender(rec: Recommender, path: str | Path, overwrite: bool = False) -> Path:
    """Write `rec` to the directory `path` atomically; refuses to replace an existing one
    unless `overwrite=True`."""
    from embedrec import __version__

    path = Path(path)
    if path.exists() and not overwrite:
        raise ModelError(
            f"{path} already exists; choose another directory or allow overwrite "
            "(overwrite=True, --force)"
        )
    if path.exists() and not (path / "config.json").is_file():
        raise ModelError(f"{path} exists and is not an embedrec model directory; not replacing it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        f"model.{k}": v.detach().cpu().contiguous().numpy()
        for k, v in rec.model.state_dict().items()
    }
    tensors["baseline.user_offsets"] = rec.baseline.user_offsets
    tensors["baseline.item_offsets"] = rec.baseline.item_offsets
    tensors["counts.users"] = rec.user_counts.astype(np.int64)
    tensors["counts.items"] = rec.item_counts.astype(np.int64)
    if rec.seen_indptr is not None:
        tensors["seen.indptr"] = rec.seen_indptr.astype(np.int64)
        tensors["seen.items"] = rec.seen_items.astype(np.int32)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "embedrec_version": __version__,
        "model": model_name(rec.model),  # the stored network; train_config says how it was made
        "model_config": rec.model.config(),
        "n_users": len(rec.user_map),
        "n_items": len(rec.item_map),
        "rating_scale": rec.rating_scale,
        "baseline_global_mean": rec.baseline.global_mean,
        "train_config": rec.config.to_dict(),
    }
    ids = {
        "users": rec.user_map.to_list(),
        "items": rec.item_map.to_list(),
        "titles": None if rec.titles is None else [str(t) for t in rec.titles],
    }
    history = [h.as_dict() for h in rec.history]
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        save_numpy(tensors, str(staging / "weights.safetensors"))
        for name, value in (("config.json", config), ("ids.json", ids), ("history.json", history)):
            (staging / name).write_text(json.dumps(value, indent=1 if name != "ids.json" else None))
        _default_permissions(staging)
        _swap_into_place(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _default_permissions(folder: Path) -> None:
    """mkdtemp makes a private folder; a saved model gets the usual umask-based modes."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for file in folder.iterdir():
        os.chmod(file, 0o666 & ~umask)


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


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(
            f"{path.parent} is not a model directory: {path.name} is missing"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable ({exc})") from None


def load_recommender(path: str | Path, device: str = "cpu") -> Recommender:
    """A `Recommender` from a model directory written by `save_recommender`."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"{path}: no such model directory")
    config = _read_json(path / "config.json")
    if config.get("format") != FORMAT:
        raise ModelError(f"{path / 'config.json'}: not an embedrec model")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ModelError(
            f"{path}: written by a newer embedrec (format "
            f"{config['format_version']}); upgrade embedrec to load it"
        )
    ids = _read_json(path / "ids.json")
    history = _read_json(path / "history.json") if (path / "history.json").exists() else []
    try:
        tensors = load_numpy(str(path / "weights.safetensors"))
    except (FileNotFoundError, SafetensorError, OSError) as exc:
        raise ModelError(f"{path / 'weights.safetensors'}: unreadable ({exc})") from None
    model_config = dict(config["model_config"])
    if model_config.get("y_range") is not None:
        model_config["y_range"] = tuple(model_config["y_range"])
    model = build_model(config["model"], config["n_users"], config["n_items"], **model_config)
    state = {
        k[len("model.") :]: torch.from_numpy(v)
        for k, v in tensors.items()
        if k.startswith("model.")
    }
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(
            f"{path / 'weights.safetensors'} does not fit its config ({exc})"
        ) from None
    model.to(device).eval()
    titles = ids.get("titles")
    scale = config.get("rating_scale")
    return Recommender(
        model=model,
        user_map=IdMap(_id_array(ids["users"]), already_unique=True),
        item_map=IdMap(_id_array(ids["items"]), already_unique=True),
        baseline=BiasBaseline(
            config["baseline_global_mean"],
            tensors["baseline.user_offsets"],
            tensors["baseline.item_offsets"],
        ),
        user_counts=tensors["counts.users"],
        item_counts=tensors["counts.items"],
        titles=None if titles is None else np.array(titles, dtype=object),
        rating_scale=None if scale is None else tuple(scale),
        config=TrainConfig(**config["train_config"]),
        history=[EpochStats(**h) for h in history],
        seen_indptr=tensors.get("seen.indptr"),
        seen_items=tensors.get("seen.items"),
    )


def _id_array(values: list) -> np.ndarray:
    """Ids as saved: integers back to int64, anything else as Python strings (object)."""
    if values and all(isinstance(v, int) for v in values):
        return np.array(values, dtype=np.int64)
    return np.array(values, dtype=object)
