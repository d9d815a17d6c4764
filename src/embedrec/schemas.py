"""The declared shape of everything embedrec reads that a person or another program wrote: the
training configuration (Python keywords, CLI options, `--config` files), a model directory's
`config.json`, `ids.json` and `history.json`, and (next) the service's request bodies.

One pydantic schema per document, with a range for every number, so a bad value is refused at
the boundary in one line naming the option (`--lr`) or the file and key, never deep inside
training as a traceback or a NaN model. `TrainConfig` stays the dataclass the code passes
around; it is validated here when it is made. A model directory's documents may carry keys a
newer embedrec wrote: they load with a warning (`EmbedrecWarning`), not an error.

The training options are declared once, in `embedrec.settings`; `TrainSchema` is made from them.
This module knows no other part of embedrec but its errors and that declaration, so anything may
import it.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from embedrec import settings
from embedrec.errors import ModelError
from embedrec.settings import Finite


class EmbedrecWarning(UserWarning):
    """Something embedrec read is usable but not what it expected (the CLI prints it as one
    `warning:` line)."""


class DuplicatesWarning(EmbedrecWarning):
    """Loading dropped duplicate (user, item) rows, keeping the last of each (the note is in
    `Ratings.notes` too; `warnings.simplefilter("ignore", DuplicatesWarning)` silences it)."""


def _schema_of(declared: dict[str, settings.Declared]) -> type[BaseModel]:
    """The pydantic model of the declared settings: each one's type, range and default."""
    fields: dict[str, Any] = {
        name: (
            each.hint,
            Field(default_factory=each.factory)
            if each.default is dataclasses.MISSING
            else each.default,
        )
        for name, each in declared.items()
    }
    return create_model(
        "TrainSchema",
        __config__=ConfigDict(extra="forbid"),
        __doc__="Every training option every kind shares, with its type and range (the "
        "fields of `TrainConfig`, declared once in `embedrec.settings`); a kind's own options "
        "are its `Options` (`embedrec.models.base.NoOptions`).",
        **fields,
    )


TrainSchema = _schema_of(settings.declared_settings())


class ModelDirConfig(BaseModel):
    """A model directory's `config.json` (keys a newer writer added load with a warning)."""

    model_config = ConfigDict(extra="allow")

    format: str
    format_version: int = Field(ge=1)
    embedrec_version: str = "unknown"
    model: str = Field(min_length=1)
    model_config_: dict[str, Any] = Field(alias="model_config")
    engine: str = "unknown"
    ranker: str | None = None
    ranker_config: dict[str, Any] | None = None
    blend: Finite = 0.0
    n_users: int = Field(ge=0)
    n_items: int = Field(ge=0)
    rating_scale: tuple[Finite, Finite] | None = None
    observed_scale: tuple[Finite, Finite] | None = None
    baseline_global_mean: Finite
    train_config: dict[str, Any]
    split: dict[str, Any] | None = None
    selection: list[dict[str, Any]] | None = None  # the default's trials (embedrec.selection)
    checksums: dict[str, str] | None = None
    # trained on interactions (no ratings); directories written before this field: False
    interactions: bool = False


class IdsDocument(BaseModel):
    """A model directory's `ids.json`: the raw ids in index order, and titles if any."""

    model_config = ConfigDict(extra="allow")

    users: list[int | str]
    items: list[int | str]
    titles: list[str] | None = None
    genres: list[str] | None = None  # per item, "Action|Comedy" ("" where unknown)


class EpochRecord(BaseModel):
    """One row of a model directory's `history.json`."""

    model_config = ConfigDict(extra="allow")

    epoch: int = Field(ge=0)
    train_loss: float | None
    valid_loss: float | None
    valid_rmse: float | None
    seconds: float = Field(ge=0)
    metric: str | None = None  # the kind's validation metric (histories before it: absent)
    valid_metric: float | None = None


class HistoryDocument(BaseModel):
    """`history.json`: one record per epoch (wrapped, so an error names the row: rows.3)."""

    rows: list[EpochRecord]


def describe_errors(error: ValidationError, names: dict[str, str] | None = None) -> str:
    """A pydantic error as one line: 'lr (--lr): must be greater than 0, got nan; ...'."""
    parts = []
    items = error.errors()
    deeper = {str(i["loc"][0]) for i in items if len(i["loc"]) > 1 and i["loc"]}
    for item in items:
        if item["type"] == "literal_error" and len(item["loc"]) == 1 and item["loc"][0] in deeper:
            continue  # a union's other member ('auto' or a pair): the pair's error says more
        loc = [str(p) for p in item["loc"]]
        # union members add their type to the location ('y_range.tuple[...]'): drop those
        loc = [p for p in loc if not p.startswith(("tuple[", "list[", "literal[", "dict["))]
        key = ".".join(loc) or "value"
        label = f"{key} ({names[loc[0]]})" if names and loc and loc[0] in names else key
        shown = item.get("input")
        got = "" if item["type"] in ("missing", "extra_forbidden") else f", got {shown!r}"
        parts.append(f"{label} {_phrase(item)}{got}")
    return "; ".join(parts[:3]) + (f" (and {len(parts) - 3} more)" if len(parts) > 3 else "")


def _phrase(item: Any) -> str:
    """A pydantic error as the end of a sentence: 'must be at least 1'."""
    ctx, kind = item.get("ctx") or {}, item["type"]
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("below", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {ctx.get(key)}"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "extra_forbidden":
        return "is not a known option"
    if kind == "missing":
        return "is missing"
    if kind == "literal_error":  # pydantic says "'a', 'b' or 'c'"
        choices = re.split(r", | or ", str(ctx.get("expected", "")))
        return "must be one of " + ", ".join(choice.strip("'") for choice in choices)
    message = str(item["msg"])
    return (
        "must be " + message[len("Input should be ") :]
        if message.startswith("Input should be ")
        else ": " + message
    )


def validate_train(values: dict[str, Any], where: str = "") -> dict[str, Any]:
    """`values` (every field of a `TrainConfig`) checked against `TrainSchema` and coerced
    (a config file's "5" epochs becomes 5); ModelError naming the option otherwise, prefixed
    with `where` (a file) when given."""
    try:
        checked = TrainSchema.model_validate(values)
    except ValidationError as exc:
        text = describe_errors(exc, None if where else settings.train_flags(list(values)))
        prefix = f"{where}: " if where else "training option "
        raise ModelError(prefix + text) from None
    return {name: getattr(checked, name) for name in values}


def known_train_keys(
    values: dict[str, Any], where: str, earlier: Collection[str] = ()
) -> dict[str, Any]:
    """A saved `train_config` without the keys this embedrec does not know, with a warning
    naming them (a newer writer's additions must not stop an older reader); `earlier`: the
    keys an earlier writer wrote that are known under another place now."""
    known = set(TrainSchema.model_fields) | set(earlier)
    unknown = sorted(set(values) - known)
    if unknown:
        warn(f"{where}: ignoring training option(s) this embedrec does not know: {unknown}")
    return {k: v for k, v in values.items() if k in known}


def validate_document(schema: type[BaseModel], value: Any, where: str) -> Any:
    """`value` (a JSON document read from the file `where`) checked against `schema`; a
    ModelError naming the file and key otherwise, a warning for keys the schema does not know."""
    try:
        checked = schema.model_validate(value)
    except ValidationError as exc:
        raise ModelError(f"{where}: {describe_errors(exc)}") from None
    extra = sorted(checked.model_extra or {})
    if extra:
        warn(f"{where}: ignoring key(s) this embedrec does not know: {extra}")
    return checked


def warn(text: str) -> None:
    warnings.warn(text, EmbedrecWarning, stacklevel=3)
