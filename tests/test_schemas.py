"""The one schema of training options and model files (embedrec.schemas)."""

from __future__ import annotations

import dataclasses
import typing
import warnings

import pytest

import embedrec
from embedrec.config import LOSSES
from embedrec.schemas import IdsDocument, ModelDirConfig, TrainSchema, validate_document
from embedrec.training.schedules import SCHEDULES


def test_the_schema_has_exactly_the_fields_of_train_config():
    assert set(TrainSchema.model_fields) == {
        f.name for f in dataclasses.fields(embedrec.TrainConfig)
    }


def test_the_schedules_the_schema_takes_are_the_ones_that_exist():
    # None: the model kind's (or the fallback, one-cycle)
    taken = typing.get_args(TrainSchema.model_fields["schedule"].annotation)
    assert taken[1] is type(None) and typing.get_args(taken[0]) == SCHEDULES


def test_the_losses_the_schema_takes_are_the_ones_that_exist():
    taken = typing.get_args(TrainSchema.model_fields["loss"].annotation)
    assert taken[1] is type(None) and typing.get_args(taken[0]) == LOSSES


def test_every_default_passes_the_schema():
    config = embedrec.TrainConfig()
    assert TrainSchema.model_validate(dataclasses.asdict(config))


def test_a_config_file_value_is_coerced_to_its_type(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"model": "bmf", "epochs": "5", "lr": "0.01", "implicit": "false"}')
    config = embedrec.models.resolve(embedrec.TrainConfig.from_file(path))
    assert (config.epochs, config.lr, config.options["implicit"]) == (5, 0.01, False)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"epochs": 0}, r"epochs \(--epochs\) must be at least 1, got 0"),
        ({"lr": float("nan")}, r"lr \(--lr\) must be a finite number"),
        ({"n_factors": 10**6}, r"n_factors \(--n-factors\) must be at most 65536"),
        ({"keep": "worst"}, r"keep \(--keep\) must be one of last, best"),
    ],
)
def test_a_message_names_the_option_and_the_bound(values, message):
    with pytest.raises(embedrec.ModelError, match=message):
        embedrec.TrainConfig(**values)


def test_unknown_keys_in_a_model_file_warn_and_known_ones_still_check():
    with pytest.warns(embedrec.EmbedrecWarning, match="zz"):
        validate_document(IdsDocument, {"users": [1], "items": ["a"], "zz": 1}, "ids.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(embedrec.ModelError, match="config.json: format is missing"):
            validate_document(ModelDirConfig, {"n_users": -1}, "config.json")
