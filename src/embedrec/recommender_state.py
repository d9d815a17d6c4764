"""A `Recommender` as files' contents and back: JSON documents (config, ids, history) and named
arrays, in the layout `embedrec.io` writes atomically. Kept apart from the Recommender so the
object reads as what it does, and the format (with its versions) in one place.

Format 2 (this one) names the model kind and its ranker by their registry names; format 1
stored bmf's posterior mean under `dot-bias` and is read as bmf.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
from torch import nn

from embedrec import io
from embedrec.config import TrainConfig
from embedrec.data.ratings import IdMap
from embedrec.errors import ModelError
from embedrec.models import BiasBaseline, Model, ModuleKind, get_kind
from embedrec.training.progress import EpochStats
from embedrec.version import __version__

FORMAT_VERSION = 2


class Saved(Protocol):
    """What is saved of a Recommender (its fields)."""

    model: Model
    ranker: Model | None
    blend: float
    user_map: IdMap
    item_map: IdMap
    baseline: BiasBaseline
    user_counts: np.ndarray
    item_counts: np.ndarray
    titles: np.ndarray | None
    rating_scale: tuple[float, float] | None
    config: TrainConfig
    history: list[EpochStats]
    seen_indptr: np.ndarray | None
    seen_items: np.ndarray | None
    seen_ratings: np.ndarray | None
    genres: np.ndarray | None
    engine: str


def to_state(rec: Saved) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The documents (`config`, `ids`, `history`) and arrays of a model directory."""
    arrays = {f"model.{k}": v for k, v in rec.model.arrays().items()}
    arrays["baseline.user_offsets"] = rec.baseline.user_offsets
    arrays["baseline.item_offsets"] = rec.baseline.item_offsets
    arrays["counts.users"] = rec.user_counts.astype(np.int64)
    arrays["counts.items"] = rec.item_counts.astype(np.int64)
    if rec.ranker is not None:
        arrays.update({f"ranker.{k}": v for k, v in rec.ranker.arrays().items()})
    if rec.seen_indptr is not None and rec.seen_items is not None:
        arrays["seen.indptr"] = rec.seen_indptr.astype(np.int64)
        arrays["seen.items"] = rec.seen_items.astype(np.int32)
        if rec.seen_ratings is not None:
            arrays["seen.ratings"] = rec.seen_ratings.astype(np.float32)
    config = {
        "format": io.MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "embedrec_version": __version__,
        "model": rec.model.name,
        "model_config": rec.model.config(),
        "engine": rec.engine,
        "ranker": None if rec.ranker is None else rec.ranker.name,
        "ranker_config": None if rec.ranker is None else rec.ranker.config(),
        "blend": rec.blend,
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
        "genres": None if rec.genres is None else [str(g) for g in rec.genres],
    }
    history = [h.as_dict() for h in rec.history]
    return {"config": config, "ids": ids, "history": history}, arrays


def from_state(
    documents: dict[str, Any],
    arrays: dict[str, np.ndarray],
    path: Path,
    network: nn.Module | None = None,
) -> dict[str, Any]:
    """The Recommender's fields from a model directory's contents; ModelError naming the file
    and what is wrong when they do not fit. `network`: the instance a custom module's weights
    load into."""
    config, ids = documents["config"], documents.get("ids")
    where = path / "config.json"
    if ids is None:
        raise ModelError(f"{path} is not a model directory: ids.json is missing")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ModelError(
            f"{path}: written by a newer embedrec (format {config['format_version']}); "
            "upgrade embedrec to load it"
        )
    try:
        train_config = TrainConfig(**config["train_config"])
        name = config["model"]
        if config.get("format_version", 1) == 1 and train_config.model == "bmf":
            name = "bmf"  # format 1 stored bmf's posterior mean under dot-bias
        n_users, n_items = config["n_users"], config["n_items"]
        own = _prefixed(arrays, "model.")
        if name == ModuleKind.name and network is not None:
            model: Model = ModuleKind.load_into(network, n_users, n_items, own)
        else:
            model = get_kind(name).from_state(n_users, n_items, config["model_config"], own)
        ranker = None
        if config.get("ranker"):
            ranker = get_kind(config["ranker"]).from_state(
                n_users, n_items, config["ranker_config"], _prefixed(arrays, "ranker.")
            )
        titles, genres = ids.get("titles"), ids.get("genres")
        scale = config.get("rating_scale")
        return {
            "model": model,
            "user_map": IdMap(_id_array(ids["users"]), already_unique=True),
            "item_map": IdMap(_id_array(ids["items"]), already_unique=True),
            "baseline": BiasBaseline(
                config["baseline_global_mean"],
                arrays["baseline.user_offsets"],
                arrays["baseline.item_offsets"],
            ),
            "user_counts": arrays["counts.users"],
            "item_counts": arrays["counts.items"],
            "titles": None if titles is None else np.array(titles, dtype=object),
            "genres": None if genres is None else np.array(genres, dtype=object),
            "rating_scale": None if scale is None else (float(scale[0]), float(scale[1])),
            "config": train_config,
            "history": [EpochStats(**h) for h in documents.get("history", [])],
            "seen_indptr": arrays.get("seen.indptr"),
            "seen_items": arrays.get("seen.items"),
            "seen_ratings": arrays.get("seen.ratings"),
            "engine": str(config.get("engine", "unknown")),
            "ranker": ranker,
            "blend": float(config.get("blend", 0.0)),
        }
    except KeyError as exc:
        raise ModelError(f"{where}: missing {exc}") from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ModelError):
            raise ModelError(f"{path}: {exc}") from None
        raise ModelError(f"{where}: does not fit this embedrec ({exc})") from None


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


def _id_array(values: list) -> np.ndarray:
    """Ids as saved: integers back to int64, anything else as Python strings (object)."""
    if values and all(isinstance(v, int) for v in values):
        return np.array(values, dtype=np.int64)
    return np.array(values, dtype=object)
