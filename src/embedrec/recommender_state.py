"""A `Recommender` as files' contents and back: JSON documents (config, ids, history) and named
arrays, in the layout `embedrec.io` writes atomically. Kept apart from the Recommender so the
object reads as what it does, and the format (with its versions) in one place.

Format 3 (this one) must record its checksums, and its weights record the sums of its JSON
documents (ids cannot be reordered under them); format 2 names the model kind and its ranker
by their registry names; format 1 stored bmf's posterior mean under `dot-bias` and is read as
bmf.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedrec import io, lazy
from embedrec.config import EARLIER_FIELDS, TrainConfig
from embedrec.data.ratings import IdMap
from embedrec.errors import ModelError
from embedrec.models import BiasBaseline, Model, Ranked, get_kind
from embedrec.models.served import ARRAY_KINDS
from embedrec.schemas import (
    EpochRecord,
    HistoryDocument,
    IdsDocument,
    ModelDirConfig,
    known_train_keys,
    validate_document,
)
from embedrec.training.progress import EpochStats
from embedrec.version import __version__

if TYPE_CHECKING:  # the Recommender imports this module: its type only, for the checker
    from torch import nn

    from embedrec.models import module
    from embedrec.recommender import Recommender
else:  # a custom module's kind, with torch, only where a network is handed over
    module = lazy.module("embedrec.models.module")

FORMAT_VERSION = 3


def to_state(rec: Recommender) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The documents (`config`, `ids`, `history`) and arrays of a model directory."""
    model, ranker, blend = rec.model.ranker_parts()  # a ranked model is kept as its two parts
    arrays = {f"model.{k}": v for k, v in model.arrays().items()}
    arrays["baseline.user_offsets"] = rec.baseline.user_offsets
    arrays["baseline.item_offsets"] = rec.baseline.item_offsets
    arrays["counts.users"] = rec.user_counts.astype(np.int64)
    arrays["counts.items"] = rec.item_counts.astype(np.int64)
    if ranker is not None:
        arrays.update({f"ranker.{k}": v for k, v in ranker.arrays().items()})
    if rec.seen_indptr is not None and rec.seen_items is not None:
        arrays["seen.indptr"] = rec.seen_indptr.astype(np.int64)
        arrays["seen.items"] = rec.seen_items.astype(np.int32)
        if rec.seen_ratings is not None:
            arrays["seen.ratings"] = rec.seen_ratings.astype(np.float32)
    config = {
        "format": io.MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "embedrec_version": __version__,
        "model": model.name,
        "model_config": model.config(),
        "engine": rec.engine,
        "ranker": None if ranker is None else ranker.name,
        "ranker_config": None if ranker is None else ranker.config(),
        "blend": blend,
        "n_users": len(rec.user_map),
        "n_items": len(rec.item_map),
        "rating_scale": rec.rating_scale,
        "observed_scale": rec.observed_scale,
        "split": rec.split,
        "baseline_global_mean": rec.baseline.global_mean,
        "train_config": rec.config.to_dict(),
        "selection": rec.selection,
        "interactions": rec.interactions,
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
    arrays_only: bool = False,
) -> dict[str, Any]:
    """The Recommender's fields from a model directory's contents; ModelError naming the file
    and what is wrong when they do not fit: every document is checked against its schema
    (`embedrec.schemas`), and every count against the ids and the arrays. `network`: the
    instance a custom module's weights load into; `arrays_only`: the kinds that are arrays
    held as arrays, scored with numpy (`embedrec.models.served`)."""
    where = path / "config.json"
    if "ids" not in documents:
        raise ModelError(f"{path} is not a model directory: ids.json is missing")
    raw = documents["config"]
    if isinstance(raw.get("format_version"), int) and raw["format_version"] > FORMAT_VERSION:
        raise ModelError(
            f"{path}: written by a newer embedrec (format {raw['format_version']}); "
            "upgrade embedrec to load it"
        )
    config = validate_document(ModelDirConfig, {"format_version": 1, **raw}, str(where))
    ids = validate_document(IdsDocument, documents["ids"], str(path / "ids.json"))
    history = validate_document(
        HistoryDocument, {"rows": documents.get("history", [])}, str(path / "history.json")
    )
    n_users, n_items = config.n_users, config.n_items
    _check_counts(path, ids, arrays, n_users, n_items)
    try:
        saved = known_train_keys(config.train_config, f"{where} train_config", EARLIER_FIELDS)
        train_config = TrainConfig.from_saved(saved)
    except ModelError as exc:
        raise ModelError(f"{where}: train_config: {exc}") from None
    name = config.model
    if config.format_version == 1 and train_config.model == "bmf":
        name = "bmf"  # format 1 stored bmf's posterior mean under dot-bias
    try:
        own = _prefixed(arrays, "model.")
        if name == "module" and network is not None:
            model: Model = module.ModuleKind.load_into(network, n_users, n_items, own)
        else:
            model = _kind(name, arrays_only).from_state(n_users, n_items, config.model_config_, own)
        if config.ranker:
            ranker = _kind(config.ranker, arrays_only).from_state(
                n_users, n_items, config.ranker_config or {}, _prefixed(arrays, "ranker.")
            )
            model = Ranked(model, ranker, config.blend)
    except (KeyError, TypeError, ValueError) as exc:  # ModelError too: the kind's own check
        text = " ".join(str(exc).split())  # torch's messages run over several lines
        raise ModelError(
            f"{path / io.WEIGHTS}: does not fit the {name} model of {where.name} ({text[:300]})"
        ) from None
    scale = config.rating_scale
    if scale is not None and not scale[0] < scale[1]:
        raise ModelError(f"{where}: rating_scale must be (low, high) with low < high")
    return {
        "model": model,
        "user_map": IdMap(_id_array(ids.users), already_unique=True),
        "item_map": IdMap(_id_array(ids.items), already_unique=True),
        "baseline": BiasBaseline(
            config.baseline_global_mean,
            arrays["baseline.user_offsets"],
            arrays["baseline.item_offsets"],
        ),
        "user_counts": arrays["counts.users"],
        "item_counts": arrays["counts.items"],
        "titles": None if ids.titles is None else np.array(ids.titles, dtype=object),
        "genres": None if ids.genres is None else np.array(ids.genres, dtype=object),
        "rating_scale": None if scale is None else (float(scale[0]), float(scale[1])),
        "observed_scale": config.observed_scale,
        "split": config.split,
        "config": train_config,
        "history": [EpochStats(**h.model_dump(include=EPOCH_FIELDS)) for h in history.rows],
        "seen_indptr": arrays.get("seen.indptr"),
        "seen_items": arrays.get("seen.items"),
        "seen_ratings": arrays.get("seen.ratings"),
        "engine": config.engine,
        "selection": config.selection,
        "interactions": config.interactions,
    }


EPOCH_FIELDS = set(EpochRecord.model_fields)


def _kind(name: str, arrays_only: bool) -> type[Model]:
    """The class that holds a saved kind: its arrays-only form where asked for and it has one,
    else the kind itself (the registry imports every kind, torch among them)."""
    if arrays_only and name in ARRAY_KINDS:
        return ARRAY_KINDS[name]
    return get_kind(name)


def _check_counts(
    path: Path, ids: IdsDocument, arrays: dict[str, np.ndarray], n_users: int, n_items: int
) -> None:
    """The ids, the titles and the per-user and per-item arrays agree with the counts in
    config.json; ModelError naming the file and what disagrees."""
    where = path / "config.json"
    for side, listed, count in (("users", ids.users, n_users), ("items", ids.items, n_items)):
        if len(listed) != count:
            raise ModelError(
                f"{path / 'ids.json'}: {len(listed):,} {side} ids, but {where} says {count:,}"
            )
        if len(set(listed)) != len(listed):
            raise ModelError(f"{path / 'ids.json'}: the {side} ids repeat an id")
        if any(isinstance(v, int) and not -(2**63) <= v < 2**63 for v in listed):
            raise ModelError(f"{path / 'ids.json'}: a {side} id is an integer past int64")
    for what, listed_per_item in (("titles", ids.titles), ("genres", ids.genres)):
        if listed_per_item is not None and len(listed_per_item) != n_items:
            raise ModelError(
                f"{path / 'ids.json'}: {len(listed_per_item):,} {what} for {n_items:,} items"
            )
    expected = {
        "baseline.user_offsets": (n_users,),
        "baseline.item_offsets": (n_items,),
        "counts.users": (n_users,),
        "counts.items": (n_items,),
    }
    weights = path / io.WEIGHTS
    for name, shape in expected.items():
        if name not in arrays:
            raise ModelError(f"{weights}: the tensor {name!r} is missing")
        if arrays[name].shape != shape:
            raise ModelError(
                f"{weights}: {name!r} has shape {arrays[name].shape}, expected {shape} "
                f"(n_users {n_users}, n_items {n_items} in {where})"
            )
    for name in ("counts.users", "counts.items"):
        if (arrays[name] < 0).any():
            raise ModelError(f"{weights}: {name!r} holds a negative count")
    for name, values in arrays.items():  # a NaN weight would score every item NaN
        if values.dtype.kind == "f" and not _all_finite(values):
            raise ModelError(f"{weights}: the tensor {name!r} holds a value that is not finite")
    indptr, items = arrays.get("seen.indptr"), arrays.get("seen.items")
    if (indptr is None) != (items is None):
        raise ModelError(f"{weights}: 'seen.indptr' and 'seen.items' come together")
    if indptr is not None and items is not None:
        if (
            indptr.shape != (n_users + 1,)
            or indptr[0] != 0
            or indptr[-1] != len(items)
            or (np.diff(indptr) < 0).any()
            or (len(items) and (items.min() < 0 or items.max() >= n_items))
        ):
            raise ModelError(f"{weights}: 'seen.indptr'/'seen.items' do not fit the counts")
        ratings = arrays.get("seen.ratings")
        if ratings is not None and ratings.shape != items.shape:
            raise ModelError(f"{weights}: 'seen.ratings' does not fit 'seen.items'")


def _all_finite(values: np.ndarray, block: int = 1 << 22) -> bool:
    """Whether every value is finite, a block at a time (an items x items matrix of gigabytes
    needs no mask of its own size)."""
    flat = values.reshape(-1)
    return all(np.isfinite(flat[i : i + block]).all() for i in range(0, len(flat), block))


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


def _id_array(values: list) -> np.ndarray:
    """Ids as saved: integers back to int64, anything else as Python strings (object)."""
    if values and all(isinstance(v, int) for v in values):
        return np.array(values, dtype=np.int64)
    return np.array(values, dtype=object)
