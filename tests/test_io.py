"""Model directories: identical predictions after a round trip, atomic and safe writes, no
pickle, clear errors for broken directories."""

import json

import numpy as np
import pytest

import embedrec
from embedrec import (
    ModelError,
    OutputExistsError,
    Recommender,
    evaluate,
    random_split,
    ratings_from_frame,
    train,
)
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module", params=["dot", "dot-bias", "nn"])
def trained(request):
    frame = low_rank_frame(n_users=30, n_items=25, seed=2)
    split = random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)
    return split, train(split, model=request.param, epochs=2)


def test_round_trip_gives_identical_predictions(trained, tmp_path):
    split, rec = trained
    rec.save(tmp_path / "model")
    loaded = Recommender.load(tmp_path / "model")
    users, items = split.valid.users, split.valid.items
    assert np.array_equal(rec.predict_indices(users, items), loaded.predict_indices(users, items))
    assert loaded.user_map == rec.user_map and loaded.item_map == rec.item_map
    assert loaded.config == rec.config and loaded.history == rec.history
    assert loaded.rating_scale == (1, 5)
    assert loaded.predict([("u3", 101)])["score"][0] == rec.predict([("u3", 101)])["score"][0]


def test_files_are_safetensors_and_json_only(trained, tmp_path):
    _, rec = trained
    rec.save(tmp_path / "model")
    names = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert names == ["config.json", "history.json", "ids.json", "weights.safetensors"]
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["format"] == "embedrec-model" and config["model"] == rec.model_name
    head = (tmp_path / "model" / "weights.safetensors").read_bytes()[:8]
    assert not head.startswith(b"\x80")  # not a pickle


def test_refuses_to_overwrite_unless_asked(trained, tmp_path):
    _, rec = trained
    target = tmp_path / "model"
    rec.save(target)
    with pytest.raises(OutputExistsError, match="already exists"):
        rec.save(target)
    rec.save(target, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging leftovers


def test_never_replaces_a_folder_that_is_not_a_model(trained, tmp_path):
    _, rec = trained
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    with pytest.raises(OutputExistsError, match="not an embedrec model directory"):
        rec.save(precious, force=True)
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_failed_write_leaves_the_old_model(trained, tmp_path, monkeypatch):
    _, rec = trained
    target = tmp_path / "model"
    rec.save(target)
    before = (target / "weights.safetensors").read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("embedrec.io.save_arrays", broken)
    with pytest.raises(OSError, match="disk full"):
        rec.save(target, force=True)
    assert (target / "weights.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_broken_directories_give_clear_errors(trained, tmp_path):
    _, rec = trained
    with pytest.raises(ModelError, match="no such model directory"):
        Recommender.load(tmp_path / "absent")
    rec.save(tmp_path / "m")
    (tmp_path / "m" / "ids.json").unlink()
    with pytest.raises(ModelError, match="ids.json: missing"):
        Recommender.load(tmp_path / "m")
    rec.save(tmp_path / "m2")
    (tmp_path / "m2" / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="weights.safetensors: its checksum does not match"):
        Recommender.load(tmp_path / "m2")


def test_string_and_integer_ids_survive(trained, tmp_path):
    _, rec = trained
    rec.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    assert loaded.user_map.ids.dtype == object and loaded.item_map.ids.dtype == np.int64
    assert loaded.user_map.lookup("u3") == rec.user_map.lookup("u3")


@pytest.mark.slow
def test_real_model_round_trip(chapter_model, chapter_split, tmp_path):
    chapter_model.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    assert evaluate(loaded, chapter_split.valid) == evaluate(chapter_model, chapter_split.valid)
    assert loaded.titles[loaded.item_map.lookup(50)] == "Star Wars (1977)"


@pytest.mark.parametrize(
    "model, engine, trained_by",
    [
        ("dot-bias", "auto", "fused"),
        ("dot", "torch", "torch"),
        ("dot-bias", "torch", "torch"),
        ("bmf", "auto", "gibbs"),
        ("nn", "auto", "torch"),
    ],
)
def test_the_engine_that_trained_a_model_is_saved_and_loaded(model, engine, trained_by, tmp_path):
    frame = low_rank_frame(n_users=30, n_items=25, seed=2)
    split = random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)
    rec = train(split, model=model, engine=engine, epochs=2, device="cpu", ranker=None)
    assert rec.engine == trained_by
    rec.save(tmp_path / "m")
    assert embedrec.load(tmp_path / "m").engine == trained_by
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["engine"] == trained_by


def test_the_default_models_engines_are_saved_and_loaded(tmp_path):
    """bmf trains by Gibbs sampling and, beside it, a ranking model by its own engine; the
    file records both."""
    frame = low_rank_frame(n_users=30, n_items=25, seed=2)
    split = random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)
    rec = train(split, model="bmf", ranker="ease", epochs=2)
    assert rec.engine == "gibbs+direct"
    rec.save(tmp_path / "m")
    loaded = embedrec.load(tmp_path / "m")
    assert loaded.engine == rec.engine and loaded.model_name == rec.model_name


def test_saving_onto_an_existing_directory_is_refused(trained, tmp_path):
    _, rec = trained
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OutputExistsError, match="already exists"):
        rec.save(empty)
    assert list(empty.iterdir()) == []
    rec.save(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()}
    with pytest.raises(OutputExistsError, match="already exists"):
        rec.save(tmp_path / "model")
    assert {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "model"]


@pytest.mark.parametrize(
    "text",
    [
        '{"model": "dot-bias", "epochs": 5, "lr": 0.005}',  # a training config, not a model
        '{"format": "some-other-tool", "version": 3}',
        "[1, 2, 3]",
        "not json at all",
    ],
)
def test_force_never_replaces_a_directory_whose_config_json_is_not_a_models(
    trained, tmp_path, text
):
    _, rec = trained
    folder = tmp_path / "experiment"
    folder.mkdir()
    (folder / "config.json").write_text(text)
    with pytest.raises(OutputExistsError, match="not an embedrec model directory"):
        rec.save(folder, force=True)
    assert [p.name for p in folder.iterdir()] == ["config.json"]
    assert (folder / "config.json").read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment"]  # no staging leftovers
