"""The shared training settings are declared once (`embedrec.settings.TrainSettings`): the config,
the schema, the training commands' options and their `--help`, with each kind's defaults read
from the kinds, are made from that declaration and from the kinds' files, never written again."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

import embedrec
from embedrec.cli import app
from embedrec.models import kinds, registry
from embedrec.models.declared import declared_kinds
from embedrec.schemas import TrainSchema

SRC = Path(__file__).resolve().parents[1] / "src"
TRAINING_COMMANDS = ("train", "lr-find", "tune", "benchmark")


def command_options(name: str) -> dict[str, Any]:
    """A command's options by parameter name, as click holds them."""
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    return {p.name: p for p in command.params}


def test_the_config_the_schema_and_every_training_command_have_the_declared_settings():
    declared = embedrec.declared_settings()
    assert [f.name for f in dataclasses.fields(embedrec.TrainConfig)] == list(declared)
    assert list(TrainSchema.model_fields) == list(declared)
    assert TrainSchema().model_dump() == dataclasses.asdict(embedrec.TrainConfig())
    for command in TRAINING_COMMANDS:
        options = command_options(command)
        for name, setting in declared.items():
            assert setting.flag in options[name].opts, (command, name)
            assert options[name].help.startswith(setting.text), (command, name)
            if setting.was:  # the old spelling, still taken, not shown
                old = options[f"{name}_was"]
                assert old.opts == [setting.was] and old.hidden, (command, name)


def kind_defaults_shown(help_text: str) -> dict[str, float]:
    """'... [default: the model's: 5e-3 for dot, nn; 1e-2 for bpr] ...' as {kind: value}."""
    said = help_text.split("[default: the model's: ", 1)[1].split("]", 1)[0]
    return {
        kind: float(value)
        for group in said.split("; ")
        for value, kinds in [group.split(" for ")]
        for kind in kinds.split(", ")
    }


@pytest.mark.parametrize("command", TRAINING_COMMANDS)
def test_each_setting_a_kind_defaults_shows_every_kinds_default_from_the_kind(command):
    options = command_options(command)
    offered = {name: kind for name, kind in kinds().items() if kind.by_name}
    kind_set = {key for kind in offered.values() for key in kind.defaults} - {"options"}
    assert {"n_factors", "epochs", "lr", "wd", "bs"} <= kind_set
    for name in kind_set:
        text = options[name].help
        want = {n: kind.defaults[name] for n, kind in offered.items() if name in kind.defaults}
        assert kind_defaults_shown(text) == want, (command, name)
        for kind_name, kind in offered.items():  # and how a kind adapts it to the data
            if name in kind.adapts:
                assert f"{kind_name}: {kind.adapts[name]}" in text, (name, kind_name)


def test_no_help_text_writes_a_kinds_default_by_hand():
    """A setting's declared help names no kind's number: those come from the kinds."""
    for name, setting in embedrec.declared_settings().items():
        for kind in kinds():
            said = f"{setting.text} [default: {setting.said()}]"
            assert not re.search(rf"\b{re.escape(kind)}\b[^;,.]*\d", said), (name, kind)


def test_the_kinds_adapted_defaults_read_from_their_files_are_the_imported_ones():
    declared = {kind.name: kind for kind in declared_kinds()}
    assert {name: declared[name].adapts for name in kinds()} == {
        name: kind.adapts for name, kind in kinds().items()
    }


CHECK = """
import json, embedrec
from typer.testing import CliRunner
from embedrec.cli import app
from embedrec.schemas import TrainSchema
run = CliRunner().invoke
help = " ".join(run(app, ["train", "--help"], terminal_width=400).output.split())
refused = run(app, ["train", "--out", "never", "--momentum", "2"])
print(json.dumps({
    "config": embedrec.TrainConfig(momentum=0.5).momentum,
    "schema": "momentum" in TrainSchema.model_fields,
    "help": help.split("--momentum ", 1)[1].split(".", 1)[0],
    "lr": help.split("--lr ", 1)[1].split("]", 1)[0],
    "refused": [refused.exit_code, refused.output],
}))
"""


def test_a_setting_declared_once_reaches_config_schema_and_cli_and_a_kinds_default_its_help(
    tmp_path,
):
    """In a copy of the package: one new setting in `TrainSettings` and one kind's changed
    default, and nothing else edited, show up everywhere they belong."""
    package = tmp_path / "embedrec"
    shutil.copytree(SRC / "embedrec", package, ignore=shutil.ignore_patterns("__pycache__"))
    settings = package / "settings.py"
    text = settings.read_text()
    end = "\n\n\n@dataclass(frozen=True)\nclass Declared:"
    assert text.count(end) == 1
    added = (
        '\n    momentum: Annotated[Finite | None, setting("--momentum", "Momentum of SGD", '
        "ge=0, le=1)] = None"
    )
    settings.write_text(text.replace(end, added + end))
    bpr = package / "models" / "bpr.py"
    assert '"lr": 1e-2,' in bpr.read_text()
    bpr.write_text(bpr.read_text().replace('"lr": 1e-2,', '"lr": 7e-3,'))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["config"] == 0.5 and found["schema"]
    assert found["help"].startswith("<float> Momentum of SGD [default: none]")
    assert "7e-3 for bpr" in found["lr"] and "1e-2" not in found["lr"]
    code, output = found["refused"]
    assert code == 2 and "momentum (--momentum) must be at most 1" in output


def test_a_kind_defaults_its_loss_and_schedule_and_a_run_without_one_takes_the_fallback():
    """`loss` and `schedule` are the kind's to default as `lr` and `bs` are: unset (None) in a
    config, the kind's `defaults` where it gives them, mse and one-cycle where it does not, and
    what the run names wins over both."""

    class ConstantDotBias(kinds()["dot-bias"]):  # type: ignore[misc, valid-type]
        name = "dot-bias-constant"
        defaults = {**kinds()["dot-bias"].defaults, "schedule": "constant"}

    registry.register(ConstantDotBias)
    try:
        config = embedrec.TrainConfig(model="dot-bias-constant")
        assert (config.loss, config.schedule) == (None, None)
        resolved = registry.resolve(config)
        assert (resolved.loss, resolved.schedule) == ("mse", "constant")
        named = registry.resolve(config.replace(schedule="one-cycle"))
        assert named.schedule == "one-cycle"
    finally:
        del registry.KINDS["dot-bias-constant"]
    plain = registry.resolve(embedrec.TrainConfig(model="dot-bias"))
    assert (plain.loss, plain.schedule) == ("mse", "one-cycle")
    with pytest.raises(embedrec.ModelError, match="loss 'cross-entropy' does not train bmf"):
        registry.resolve(embedrec.TrainConfig(model="bmf", loss="cross-entropy"))
