import numpy as np

from embedrec import lr_find, ratings_from_frame
from embedrec.training.lr_find import valley
from tests.conftest import low_rank_frame


def test_lr_find_sweeps_up_and_suggests_a_rate_on_the_descent(tmp_path):
    ratings = ratings_from_frame(
        low_rank_frame(n_users=50, n_items=40, seed=6), rating_scale=(1, 5)
    )
    result = lr_find(ratings, num_it=100)
    assert np.all(np.diff(result.lrs) > 0) and result.lrs[0] == 1e-7
    blow_up = result.lrs[int(np.argmax(result.losses))]
    assert 1e-6 < result.suggestion < blow_up  # suggested before the loss explodes
    assert result.plot(tmp_path / "lr.png").stat().st_size > 10_000
    figure = result.plot()  # no path: the figure, for a notebook or a script to show
    assert figure.axes[0].get_xscale() == "log" and len(figure.axes[0].lines) == 2
    assert result._repr_png_().startswith(b"\x89PNG")  # what Jupyter shows for the result
    text = repr(result)
    assert text.startswith(f"LRFindResult(suggestion={result.suggestion:.2e}") and len(text) < 120


def test_valley_follows_fastais_rule():
    # longest descent 5,4,3,2,1,0.5 ends at index 6 with length 6; fastai's start is 6-6=0,
    # and it picks start + int(6/3) + int(6/3/2) = 3
    losses = np.array([5, 5, 4, 3, 2, 1, 0.5, 3, 9], dtype=float)
    assert valley(losses) == 3


def test_lr_find_stops_when_the_loss_diverges():
    ratings = ratings_from_frame(low_rank_frame(seed=7))
    result = lr_find(ratings, end_lr=1e4, num_it=100, model="dot", y_range=None)
    assert len(result.lrs) < 100
