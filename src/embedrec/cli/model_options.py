"""The model and training options every command that trains shares, declared once and
gathered into a `TrainConfig` (a `--config` file's values, overridden by the typed options)."""

from __future__ import annotations

import json
from pathlib import Path
from types import GenericAlias
from typing import Annotated, Any, Literal, Optional, get_args, get_origin

import typer

import embedrec
from embedrec.cli.common import renamed_flag
from embedrec.cli.options import option, option_group
from embedrec.models.declared import declared_kinds, defaults_help, models_help


def _int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"{flag} takes sizes like 100,50, got {text!r}") from None


def _kind_options(pairs: list[str] | None) -> dict[str, Any]:
    """`--option KEY=VALUE` pairs; values are read as JSON where they parse (numbers, true,
    lists), else kept as text."""
    parsed: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--option takes KEY=VALUE, got {pair!r}")
        try:
            parsed[key.strip()] = json.loads(text)
        except (ValueError, RecursionError):  # not JSON (or nested too deep to be a value)
            parsed[key.strip()] = text
    return parsed


def build_config(
    config_file: Path | None = None,
    no_y_range: bool = False,
    options: list[str] | None = None,
    ranker_options: list[str] | None = None,
    **typed_options: Any,
) -> embedrec.TrainConfig:
    """The config file's values (if any), overridden by the options the user typed."""
    for name, each in embedrec.declared_settings().items():
        if each.was:  # the flag's old spelling (`--factors`), said once as a note
            old = typed_options.pop(f"{name}_was", None)
            typed_options[name] = renamed_flag(old, each.was, each.flag, typed_options.get(name))
    base = embedrec.TrainConfig.from_file(config_file) if config_file else embedrec.TrainConfig()
    typed = {k: v for k, v in typed_options.items() if v is not None}
    if options:
        typed["options"] = {**base.options, **_kind_options(options)}
    if ranker_options:
        typed["ranker_options"] = {**base.ranker_options, **_kind_options(ranker_options)}
    if "layers" in typed:
        typed["layers"] = _int_list(typed["layers"], "--layers")
    if "members" in typed:
        typed["members"] = [{"model": name.strip()} for name in typed["members"].split(",")]
        typed.setdefault("model", "average")
    if "weights" in typed:
        try:
            typed["weights"] = [float(w) for w in typed["weights"].split(",")]
        except ValueError:
            raise typer.BadParameter(
                f"--weights takes numbers like 0.4,0.4,0.2, got {typed['weights']!r}"
            ) from None
    if no_y_range:
        typed["y_range"] = None
    config = base.replace(**typed)
    if config_file:
        try:  # the file as the typed options change it (a kind's options too), named
            embedrec.check_config(config)
        except embedrec.ModelError as exc:
            raise embedrec.ModelError(f"{config_file} (with the options typed): {exc}") from None
    return config


def shared_options() -> dict[str, Any]:
    """The typer options of the settings every kind shares, made from their one declaration
    (`embedrec.settings.TrainSettings`): its flag, its type, its help and default (each kind's,
    read from the kinds' files, where kinds set it), and the flag's old spelling, hidden. Each
    is None unless typed, so that a --config file's value stands."""
    made: dict[str, Any] = {}
    for name, each in embedrec.declared_settings().items():
        typed: Any = Optional[cli_type(each.hint)]
        text = f"{each.text} {defaults_help(name, each.said())}."
        if name in KIND_LISTS:
            text += f" {KIND_LISTS[name]()}."
        made[name] = (option(each.flag, text, typed), None)
        made.update(AFTER.get(name, {}))
        if each.was:  # taken, with a note naming the new spelling (`build_config`)
            made[f"{name}_was"] = (Annotated[typed, typer.Option(each.was, hidden=True)], None)
    return made


def cli_type(hint: Any) -> Any:
    """The type a setting is typed as on the command line: KEY=VALUE texts for a dict, a pair
    (--y-range LOW HIGH) where it takes one (y_range: auto, a pair or None), a choice as text
    (the schema checks it), else its number or text."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        return cli_type(args[0])
    if origin is Literal:
        return str
    if origin is dict:
        return list[str]
    if origin is tuple:
        return GenericAlias(tuple, tuple(cli_type(arg) for arg in args))
    if args:  # a union
        members = [arg for arg in args if arg is not type(None)]
        pairs = [member for member in members if get_origin(member) is tuple]
        return cli_type((pairs or members)[0])
    return hint


def ranking_kinds() -> str:
    """The kinds a ranker may be, as their files declare them."""
    names = [k.name for k in declared_kinds() if k.by_name and not k.predicts_ratings]
    return f"Ranking kinds: {', '.join(names)}"


# the settings whose help ends in the kinds they may name, read from the kinds' files
KIND_LISTS = {"model": models_help, "ranker": ranking_kinds}

# the options of the command line alone, after the setting they belong with
AFTER: dict[str, dict[str, Any]] = {
    "y_range": {
        "no_y_range": (
            option(
                "--no-y-range",
                "No sigmoid on the output [default: off: a sigmoid to --y-range].",
                bool,
            ),
            False,
        )
    },
    "patience": {
        "config_file": (
            option(
                "--config",
                "JSON training config; typed options override it [default: none].",
                Optional[Path],
            ),
            None,
        )
    },
}


def kind_flags() -> dict[str, Any]:
    """The options of one kind each that have a flag of their own (`--layers`: nn's `layers`,
    declared with `json_schema_extra={"flag": ...}`), with the kind's description and default:
    the same as `--option layers=[200,100]`, kept as earlier versions spelled them."""
    flags: dict[str, Any] = {}
    for kind in declared_kinds():
        for name, declared in kind.options.items():
            flag = declared.flag
            if flag is None:
                continue
            # None: unset, which the kind's description explains ("unset: equal")
            default = f" [default: {_shown(declared.default)}]"
            # --implicit/--no-implicit is a switch; a list (--layers 100,50) is read as text
            typed: Any = Optional[bool] if "/" in flag else Optional[str]
            if isinstance(declared.default, float):
                typed = Optional[float]
            text = f"{kind.name}: {declared.description}{default}."
            flags[name] = (option(flag, text, typed), None)
    return flags


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


MODEL_OPTIONS = {**shared_options(), **kind_flags()}
with_model_options = option_group("config", build_config, MODEL_OPTIONS)
