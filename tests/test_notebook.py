"""embedrec in Jupyter, as a reader of the chapter runs it: a notebook built here is executed
by a real kernel (nbclient), and its saved outputs are what the page would show: pictures as
PNG, the epoch table as one HTML table updated in place, short reprs."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import embedrec
from embedrec import ModelError, random_split, ratings_from_frame
from embedrec.plots import loss_figure
from tests.conftest import low_rank_frame

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need nbformat (dev extras)")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need nbclient (dev extras)")
pytest.importorskip("ipykernel", reason="the notebook tests need ipykernel (dev extras)")

SRC = Path(__file__).resolve().parents[1] / "src"

CELLS = [
    "import embedrec\n"
    "split = embedrec.load_split('ratings.csv', valid_pct=0.2, seed=1)\n"
    "split.train",
    "rec = embedrec.train(split, model='dot-bias', engine='torch', n_factors=4, epochs=3,\n"
    "                     bs=32, lr=0.02, progress=True)",
    "coords = embedrec.pca_map(rec, n=12)",
    "found = embedrec.lr_find(split.train, model='dot-bias', num_it=30)\nfound",
    "print(found)",
    "rec",
    "history = embedrec.plot_loss(rec)",
    # what the page receives while a model trains: each update of the one epoch table
    "updates = []\n"
    "def keep(message):\n"
    "    if message['msg_type'] == 'update_display_data':\n"
    "        updates.append(message['content']['data']['text/html'])\n"
    "    return message\n"
    "get_ipython().display_pub.register_hook(keep)\n"
    "again = embedrec.train(split, model='dot-bias', engine='torch', n_factors=4, epochs=2,\n"
    "                       bs=32, lr=0.02, progress=True)\n"
    "get_ipython().display_pub.unregister_hook(keep)\n"
    "import json; print(json.dumps(updates))",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> list:
    folder = tmp_path_factory.mktemp("notebook")
    low_rank_frame(n_users=40, n_items=30).to_csv(folder / "ratings.csv", index=False)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    path = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    os.environ["PYTHONPATH"], before = path, os.environ.get("PYTHONPATH")
    try:
        nbclient.NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": folder}}
        ).execute()
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
    return [cell.outputs for cell in notebook.cells]


def pngs(outputs: list) -> list[bytes]:
    return [
        base64.b64decode(o["data"]["image/png"])
        for o in outputs
        if "image/png" in o.get("data", {})
    ]


def test_the_epoch_table_is_one_html_table_with_a_row_per_epoch(executed):
    outputs = executed[1]
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(tables) == 1
    markup = tables[0]["data"]["text/html"]
    assert markup.count("<table") == 1 and markup.count("<tr>") == 1 + 3  # header, 3 epochs
    assert "train_loss" in markup and "valid_loss" in markup and "<progress" not in markup
    header = ["epoch", "train_loss", "valid_loss", "valid_rmse", "time"]  # the terminal's
    assert markup.count("<th>") == len(header) and markup.count("<td>") == 3 * len(header)
    plain = tables[0]["data"]["text/plain"]  # what a text-only view shows
    lines = plain.splitlines()
    assert lines[0].split() == header and len(lines) == 1 + 3
    assert all(len(line.split()) == len(header) for line in lines[1:])
    text = "".join(str(o.get("text", "")) + str(o.get("data", "")) for o in outputs)
    assert "\x1b[" not in text  # no terminal styling in a notebook


def test_pca_map_and_lr_find_show_pictures(executed):
    for outputs in (executed[2], executed[3]):
        (png,) = pngs(outputs)
        assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_reprs_are_short(executed):
    (printed,) = [o["text"] for o in executed[4] if o.get("name") == "stdout"]
    assert printed.startswith("LRFindResult(suggestion=") and len(printed) < 150
    ratings_html = executed[0][0]["data"]["text/html"]
    assert "Ratings" in ratings_html and "ratings.csv" in ratings_html
    recommender_html = executed[5][0]["data"]["text/html"]
    assert recommender_html.count("valid_rmse") == 1 and "valid_metric" not in recommender_html


def test_the_training_curves_show_inline(executed):
    (png,) = pngs(executed[6])
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_the_epoch_table_grows_under_a_progress_bar_while_training(executed):
    (printed,) = [o["text"] for o in executed[7] if o.get("name") == "stdout"]
    updates = json.loads(printed)
    # after the first epoch: its row, and the bar of the second epoch above it
    during = [u for u in updates if "<progress" in u]
    assert any("epoch 2/2" in u and u.count("<td>") == 5 for u in during)
    assert "<progress" not in updates[-1] and updates[-1].count("<tr>") == 1 + 2  # at the end


def test_plot_loss_saves_the_curves_and_returns_the_epochs(tmp_path):
    split = random_split(ratings_from_frame(low_rank_frame(n_users=30, n_items=20)), 0.2, 1)
    rec = embedrec.train(split, model="dot-bias", engine="torch", n_factors=4, epochs=3)
    table = embedrec.plot_loss(rec, path=tmp_path / "loss.png")
    assert list(table["epoch"]) == [0, 1, 2]
    assert list(table["valid_loss"]) == [h.valid_loss for h in rec.history]
    assert (tmp_path / "loss.png").read_bytes().startswith(b"\x89PNG")
    solved = embedrec.train(split, model="ease")
    with pytest.raises(ModelError, match="ease model recorded no loss to plot"):
        embedrec.plot_loss(solved)
    with pytest.raises(ModelError, match="dot-bias model holds no epoch history"):
        embedrec.plot_loss(dataclasses.replace(rec, history=[]))  # not "fitted in one solve"


def test_a_split_shows_as_one_short_table():
    ratings = ratings_from_frame(low_rank_frame(n_users=30, n_items=20))
    split = random_split(ratings, 0.2, 1)
    markup = split._repr_html_()  # what Jupyter shows for `split` at the end of a cell
    assert markup.count("<table") == 1 and "Split random:0.2:1" in markup
    assert f"{len(split.train):,} ratings" in markup and f"{len(split.valid):,} ratings" in markup


def test_the_curves_of_200_sweeps_read_as_curves():
    """The default bmf runs 200 sweeps and validates about every tenth: the epoch axis shows a
    readable few whole numbers, and the valid loss is one connected curve, not dots between
    the sweeps it skipped."""
    sweeps = np.arange(200)
    valid = np.where(sweeps % 20 == 19, 0.9 - 0.001 * sweeps, np.nan)
    history = pd.DataFrame({"epoch": sweeps, "train_loss": 1 - sweeps / 400, "valid_loss": valid})
    (ax,) = loss_figure(history).axes
    shown = [t for t in ax.get_xticks() if 0 <= t <= 199]
    assert 3 <= len(shown) <= 12 and all(float(t).is_integer() for t in shown)
    curves = {line.get_label(): line.get_ydata() for line in ax.lines}
    assert len(curves["valid loss"]) == 10 and np.isfinite(curves["valid loss"]).all()
