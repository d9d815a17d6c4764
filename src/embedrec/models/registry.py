"""Model kinds by name: the name a user types (`train(model="dot-bias")`, `--model dot-bias`)
and the name a model directory records. A kind registers itself with `@register`; the package
`embedrec.models` imports each kind's module once, which is the one line a new kind adds."""

from __future__ import annotations

from typing import NewType

from embedrec import lazy
from embedrec.config import AUTO_MODEL, TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models import KIND_MODULES
from embedrec.models.base import Model
from embedrec.models.declared import help_line
from embedrec.settings import FALLBACKS

# Importing a kind's module (`KIND_MODULES`) registers its kinds. They are imported when the
# kinds are first asked for (torch with the torch kinds), so loading a model of a kind that is
# arrays imports that kind's module alone.
KINDS: dict[str, type[Model]] = {}


def kinds() -> dict[str, type[Model]]:
    """Every kind by name (`KINDS`), each kind's module imported on the first call."""
    names = [f"embedrec.models.{module}" for module in KIND_MODULES]
    if not all(name in _IMPORTED for name in names):
        for name in names:
            lazy.imported(name)
            _IMPORTED.add(name)
        order = {name: position for position, name in enumerate(names)}
        ranked = sorted(KINDS.items(), key=lambda item: order.get(item[1].__module__, len(order)))
        KINDS.clear()
        KINDS.update(ranked)
    return KINDS


_IMPORTED: set[str] = set()


def register(kind: type[Model]) -> type[Model]:
    """Class decorator: make `kind` known by `kind.name`."""
    if kind.name in KINDS and KINDS[kind.name] is not kind:
        raise ValueError(f"two model kinds are called {kind.name!r}")
    KINDS[kind.name] = kind
    return kind


def model_names() -> list[str]:
    """The kinds a user can name (`train(model=NAME)`, `--model NAME`)."""
    return [name for name, kind in kinds().items() if kind.by_name]


def ranking_names() -> list[str]:
    """The kinds a user can name that rank items without predicting ratings (the models that
    learn from interactions: plays, clicks, purchases)."""
    return [name for name in model_names() if not KINDS[name].predicts_ratings]


def models_help() -> str:
    """Every kind with its one-line summary (and its own options), for `--help`."""
    return "; ".join(
        help_line(name, KINDS[name].summary, KINDS[name].options_help()) for name in model_names()
    )


def get_kind(name: str) -> type[Model]:
    try:
        return kinds()[name]
    except KeyError:
        choices = ", ".join(model_names())
        raise ModelError(f"unknown model {name!r}; choose one of {choices}") from None


# A config its kind has completed: the kind's defaults filled in, its options validated and
# complete. Made by `resolve` only (once per run: `build` and `fit` take it and never resolve
# again); `replace` or `with_defaults` give a plain `TrainConfig`, to be resolved anew.
ResolvedConfig = NewType("ResolvedConfig", TrainConfig)


def resolve(config: TrainConfig) -> ResolvedConfig:
    """`config` with its model kind's defaults filled in and its options validated (what a
    trained model records). With `model="auto"` it checks the options and returns the config
    as it is: the choice (`embedrec.selection`) names the model, then it is resolved."""
    if config.model == AUTO_MODEL:  # chosen from the data when it is read (embedrec.selection)
        # the choice hands each rating candidate the options its kind takes (bmf's `implicit`)
        rating = [kind for kind in kinds().values() if kind.by_name and kind.predicts_ratings]
        taken = {name for kind in rating for name in kind.own_options(config.options)}
        unknown = [name for name in config.options if name not in taken]
        if unknown:
            raise ModelError(
                f"model options ({', '.join(unknown)}) belong to a named model: give "
                "--model (the default, auto, chooses among several)"
            )
        for kind in rating:  # each value checked now by its kind, before any candidate trains
            kind.parse_options(kind.own_options(config.options))
        return ResolvedConfig(config)
    kind = get_kind(config.model)
    config = config.with_defaults(kind.defaults).with_defaults(FALLBACKS)
    if config.loss not in kind.losses:
        raise ModelError(
            f"loss {config.loss!r} does not train {kind.name} models (theirs: "
            f"{', '.join(kind.losses)}); cross-entropy is for --model nn"
        )
    options = kind.parse_options(config.options).model_dump()
    return ResolvedConfig(config if options == config.options else config.replace(options=options))


def data_defaults(config: TrainConfig, data: Ratings) -> tuple[TrainConfig, str | None]:
    """`config` with what it leaves unset picked by its model kind from the training data
    (size, density), and the line that says what was picked (None when nothing was left to
    pick, or the kind does not adapt)."""
    if config.model == AUTO_MODEL:
        return config, None
    defaults, note = get_kind(config.model).defaults_for(data, config)
    filled = config.with_defaults(defaults)
    return filled, (note if filled != config else None)


def check_learns_from(config: TrainConfig, data: Ratings) -> None:
    """Refuse a rating model on interactions (it would learn to predict play counts, or 1s),
    naming the kinds that learn from them."""
    if data.interactions and get_kind(config.model).predicts_ratings:
        raise ModelError(
            f"{data.source} holds interactions (which items each user chose: plays, clicks, "
            f"purchases), not ratings, and a {config.model} model needs ratings; train a "
            f"ranking model: {', '.join(ranking_names())} (--model NAME), or name no model "
            "to have one chosen for the data"
        )


def build(config: TrainConfig, data: Ratings) -> Model:
    """A fresh model of the kind `config.model` names, for `data`'s users and items (a kind
    that learns from the data it is given: `check_learns_from`)."""
    return build_resolved(resolve(config), data)


def build_resolved(config: ResolvedConfig, data: Ratings) -> Model:
    """`build` for a config `resolve` completed already (a run resolves once)."""
    check_learns_from(config, data)
    return get_kind(config.model).build(config, data)
