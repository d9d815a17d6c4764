"""The public vocabulary, pinned: the same thing has the same name in Python and on the command
line, and a user of fastai or implicit guesses the calls right the first time."""

import inspect

import pytest
from typer.testing import CliRunner

import embedrec
from embedrec.cli import app

runner = CliRunner()


def parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_one_recommend_for_known_users_new_users_candidates_and_batches():
    names = parameters(embedrec.Recommender.recommend)
    assert names[:3] == ["self", "user", "n"]
    assert {"ratings", "exclude_seen", "items"} <= set(names)
    for gone in ("recommend_many", "recommend_for_ratings", "predict_for_ratings"):
        assert not hasattr(embedrec.Recommender, gone), gone


def test_fastai_style_lookups_by_name():
    for method in (embedrec.Recommender.bias, embedrec.Recommender.weight):
        assert parameters(method) == ["self", "items", "is_item"]


def test_same_names_everywhere():
    config = set(inspect.signature(embedrec.TrainConfig).parameters)
    assert {"n_factors", "epochs", "lr", "wd", "bs", "seed"} <= config
    assert "force" in parameters(embedrec.Recommender.save)
    assert "n" in parameters(embedrec.Recommender.similar_items)
    for function in (embedrec.write_synthetic, embedrec.export_factors, embedrec.pca_map):
        assert "force" in parameters(function), function.__name__


@pytest.mark.parametrize(
    "command, flags",
    [
        (["train"], ["--n-factors", "--epochs", "--force", "--json", "--seed", "--option"]),
        (["tune"], ["--force", "--json", "--trials"]),
        (["benchmark"], ["--n-factors", "--epochs", "--json"]),
        (["lr-find"], ["--force", "--json", "--plot"]),
        (["recommend"], ["-n", "--include-seen", "--json"]),
        (["similar"], ["-n", "--min-ratings", "--json"]),
        (["predict"], ["--out", "--force", "--json"]),
        (["export"], ["--out", "--force", "--json"]),
        (["explain"], ["--plot", "--force", "--json"]),
        (["synth"], ["--out", "--force", "--json"]),
        (["evaluate"], ["--json", "--k", "--split", "--data"]),
    ],
)
def test_every_command_speaks_the_same_flags(command, flags):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    for flag in flags:
        assert flag in result.output, f"{command[0]} lacks {flag}"


def test_every_registered_model_is_offered_by_name():
    assert {"bmf", "dot", "dot-bias", "nn", "average", "ease"} <= set(embedrec.model_names())
    text = " ".join(runner.invoke(app, ["train", "--help"]).output.split())
    for name in embedrec.model_names():
        assert f"{name}:" in text, name


def test_only_our_own_errors_reach_a_user():
    assert issubclass(embedrec.UnknownIdError, embedrec.DataError)
    assert issubclass(embedrec.OutputExistsError, embedrec.EmbedrecError)
    with pytest.raises(embedrec.ModelError):
        embedrec.TrainConfig(model="dot").replace(no_such_option=1)


def test_version_flag():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"embedrec {embedrec.__version__}"
