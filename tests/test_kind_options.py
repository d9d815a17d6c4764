"""A kind's settings live in the kind: nn's `layers` and `dropout`, bmf's `implicit` and
`robust`, average's `members` and `weights` are the kinds' options, still spelled as before in
Python, the CLI and saved files; `--help` reads each kind's defaults from the kind itself."""

import json

import pytest
from typer.testing import CliRunner

from embedrec import ModelError, Recommender, TrainConfig, random_split, ratings_from_frame, train
from embedrec.cli import app
from embedrec.models import KINDS, kinds, resolve
from embedrec.models.declared import declared_kinds
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module")
def split():
    frame = low_rank_frame(n_users=24, n_items=18, density=0.6, seed=4)
    return random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)


def test_the_earlier_spellings_train_the_model_they_name(split):
    rec = train(split, model="nn", layers=[8, 4], dropout=0.1, epochs=1)
    assert rec.model.network.layers == [8, 4] and rec.model.network.dropout == [0.1, 0.1]
    assert rec.config.options == {"layers": [8, 4], "dropout": 0.1}
    config = TrainConfig(model="nn", layers=[8, 4], dropout=0.1)
    assert config.options == {"layers": [8, 4], "dropout": 0.1}
    assert config == TrainConfig(model="nn", options={"layers": [8, 4], "dropout": 0.1})
    # unset, the kind's defaults, as before the move
    assert resolve(TrainConfig(model="nn")).options == {"layers": [100, 50], "dropout": 0.0}
    assert resolve(TrainConfig(model="bmf", implicit=False)).options["implicit"] is False


def test_a_bad_kind_option_names_the_option_and_its_flag(split):
    with pytest.raises(ModelError, match=r"nn model option dropout \(--dropout\)"):
        train(split, model="nn", dropout=2.0)
    with pytest.raises(ModelError, match="layers"):
        resolve(TrainConfig(model="nn", layers=[0]))
    with pytest.raises(ModelError, match="bmf model option layers"):
        resolve(TrainConfig(model="bmf", layers=[8]))  # not bmf's: refused, not ignored


def test_a_model_directory_of_an_earlier_version_loads(split, tmp_path):
    rec = train(split, model="nn", layers=[8, 4], epochs=1)
    rec.save(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    saved = json.loads(path.read_text())
    # as earlier versions wrote it: every kind's options as fields, at defaults where unused
    earlier = {k: v for k, v in saved["train_config"].items() if k != "options"}
    earlier.update(layers=[8, 4], dropout=0.0, implicit=None, robust=None)
    earlier.update(members=None, weights=None, options={})
    saved["train_config"] = earlier
    path.write_text(json.dumps(saved))
    loaded = Recommender.load(tmp_path / "m")
    assert loaded.config.options == {"layers": [8, 4]}
    assert resolve(loaded.config).options == {"layers": [8, 4], "dropout": 0.0}


def test_an_earlier_config_file_of_another_kind_drops_the_unused_defaults(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"model": "bmf", "layers": [100, 50], "dropout": 0.0}))
    assert TrainConfig.from_file(path).options == {}


def test_train_help_shows_each_kinds_defaults_read_from_the_kind():
    result = CliRunner().invoke(app, ["train", "--help"], terminal_width=400)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for setting, flag in (("lr", "--lr"), ("bs", "--bs")):
        line = text.split(flag + " ", 1)[1].split("the model's: ", 1)[1].split("]", 1)[0]
        shown = {
            name: float(value)
            for group in line.split("; ")
            for value, names in [group.split(" for ")]
            for name in names.split(", ")
        }
        want = {n: k.defaults[setting] for n, k in kinds().items() if setting in k.defaults}
        assert shown == {n: v for n, v in want.items() if KINDS[n].by_name}
    assert "1e-2 for bpr" in text and "1024 for bpr" in text
    assert "--layers" in text and "nn: hidden layer sizes [default: 100,50]" in text


def test_the_kinds_read_from_their_files_are_the_imported_kinds():
    declared = {kind.name: kind for kind in declared_kinds()}
    assert list(declared) == list(kinds())
    for name, kind in KINDS.items():
        read = declared[name]
        assert (read.summary, read.defaults) == (kind.summary, kind.defaults)
        assert (read.by_name, read.predicts_ratings) == (kind.by_name, kind.predicts_ratings)
        fields = kind.Options.model_fields
        assert list(read.options) == list(fields)
        for option, field in fields.items():
            assert read.options[option].default == field.default
            assert read.options[option].description == (field.description or "")


def test_the_default_hands_each_candidate_the_options_its_kind_takes(split):
    rec = train(split, implicit=False, robust=False, epochs=2, ranker=None)
    labels = [trial["label"] for trial in rec.selection]
    assert any(label.startswith("bmf") and "plain" in label for label in labels)
    assert all("implicit+noise" not in label for label in labels)
    # the kept model has the options its kind takes: bmf the switches, another kind none of them
    assert rec.config.options.get("implicit") is (False if rec.config.model == "bmf" else None)
    with pytest.raises(ModelError, match=r"model options \(l2\) belong to a named model"):
        train(split, l2=300.0)


def test_an_earlier_file_keeps_only_the_settings_its_model_took():
    """Earlier versions wrote nn's and bmf's settings into every config; for another kind they
    did nothing, so reading such a file drops them (a config for dot still trains dot)."""
    saved = TrainConfig.from_saved({"model": "dot", "layers": [200, 100], "dropout": 0.2})
    assert saved.options == {}
    assert resolve(saved).model == "dot"
    nn = TrainConfig.from_saved({"model": "nn", "layers": [200, 100], "implicit": True})
    assert nn.options == {"layers": [200, 100]}


def test_reading_an_earlier_field_warns_and_gives_the_kinds_option():
    config = TrainConfig(model="nn", layers=[200, 100])
    with pytest.warns(DeprecationWarning, match=r"options.get\('layers'\)"):
        assert config.layers == [200, 100]
