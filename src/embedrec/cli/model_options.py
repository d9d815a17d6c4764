"""The model and training options every command that trains shares, declared once and
gathered into a `TrainConfig` (a `--config` file's values, overridden by the typed options)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

import embedrec
from embedrec.cli.common import renamed_flag
from embedrec.cli.options import option, option_group
from embedrec.help_text import ENGINE_NAMES
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
    factors: int | None = None,
    **typed_options: Any,
) -> embedrec.TrainConfig:
    """The config file's values (if any), overridden by the options the user typed."""
    typed_options["n_factors"] = renamed_flag(
        factors, "--factors", "--n-factors", typed_options.get("n_factors")
    )
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


MODEL_OPTIONS: dict[str, Any] = {
    "model": (
        option(
            "--model",
            "Model kind [default: auto: bmf or dot-bias to predict, with EASE, iALS or "
            "popularity to rank, chosen on 10% of the training ratings carved out for "
            f"validation]. {models_help()}.",
        ),
        None,
    ),
    "n_factors": (
        option(
            "--n-factors",
            "Rank of bmf, width of the dot models and of nn's embeddings "
            "[default: bmf 10, dot 50, nn fastai's rule].",
            Optional[int],
        ),
        None,
    ),
    "factors": (  # the old spelling of --n-factors (TrainConfig.n_factors)
        Annotated[Optional[int], typer.Option("--factors", hidden=True)],
        None,
    ),
    "epochs": (
        option("--epochs", "Epochs [default: 5; bmf: 200 sweeps].", Optional[int]),
        None,
    ),
    "lr": (
        option(
            "--lr",
            f"Peak learning rate [default: {defaults_help('lr', 'the engine')}].",
            Optional[float],
        ),
        None,
    ),
    "wd": (
        option(
            "--wd",
            "Decoupled weight decay [default: 0.1] (dot-bias past 80,000 training ratings: "
            "0.1 x 80,000 / ratings).",
            Optional[float],
        ),
        None,
    ),
    "bs": (
        option(
            "--bs",
            f"Batch size [default: {defaults_help('bs', 'the engine')}].",
            Optional[int],
        ),
        None,
    ),
    "loss": (
        option(
            "--loss",
            "mse, or cross-entropy (nn: classification over the rating values, predicting "
            "the expected rating) [default: mse].",
        ),
        None,
    ),
    "y_range": (
        option(
            "--y-range",
            "Output range LOW HIGH [default: (0, 1.1 x max rating)].",
            Optional[tuple[float, float]],
        ),
        None,
    ),
    "no_y_range": (
        option(
            "--no-y-range", "No sigmoid on the output [default: off: a sigmoid to --y-range].", bool
        ),
        False,
    ),
    "schedule": (
        option("--schedule", "one-cycle or constant [default: one-cycle]."),
        None,
    ),
    "device": (option("--device", "auto, cpu, cuda or mps [default: auto]."), None),
    "engine": (
        option(
            "--engine",
            f"{', '.join(ENGINE_NAMES)} [default: auto: the model's first engine "
            "that runs on the device].",
        ),
        None,
    ),
    "threads": (
        option("--threads", "CPU threads of the engine [default: all].", Optional[int]),
        None,
    ),
    "keep": (
        option(
            "--keep",
            "Which epoch's model to save: last or best (lowest valid RMSE) [default: last].",
        ),
        None,
    ),
    "patience": (
        option(
            "--patience",
            "Stop after this many validated epochs without a better valid RMSE [default: never].",
            Optional[int],
        ),
        None,
    ),
    "config_file": (
        option(
            "--config",
            "JSON training config; typed options override it [default: none].",
            Optional[Path],
        ),
        None,
    ),
    "ranker": (
        option(
            "--ranker",
            "A ranking model trained beside the rating model for recommend and similar: "
            "ease, ials, popular, or none [default: auto: beside the default model, chosen "
            "on carved validation; none beside a named --model].",
        ),
        None,
    ),
    "ranker_options": (
        option(
            "--ranker-option",
            "An option of the ranker as KEY=VALUE, repeatable [default: none].",
            Optional[list[str]],
        ),
        None,
    ),
    "blend": (
        option(
            "--blend",
            "Weight of the rating model's standardised predictions added to the ranker's "
            "standardised scores [default: chosen on validation carved from the training "
            "data; 0 beside a named ranker].",
            Optional[float],
        ),
        None,
    ),
    "options": (
        option(
            "--option",
            "A model kind's own option as KEY=VALUE, repeatable (each kind's options are "
            "listed under --model) [default: none].",
            Optional[list[str]],
        ),
        None,
    ),
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


MODEL_OPTIONS.update(kind_flags())
with_model_options = option_group("config", build_config, MODEL_OPTIONS)
