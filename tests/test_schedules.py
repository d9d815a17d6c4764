import numpy as np
import pytest

from embedrec.training.schedules import one_cycle, schedule


def test_one_cycle_shape_matches_fastai():
    lrs, moms = one_cycle(1000, lr_max=5e-3)
    peak = int(np.argmax(lrs))
    assert lrs[0] == pytest.approx(5e-3 / 25)
    assert 240 <= peak <= 251 and lrs[peak] == pytest.approx(5e-3, rel=1e-3)
    assert np.all(np.diff(lrs[: peak + 1]) >= 0) and np.all(np.diff(lrs[peak:]) <= 0)
    assert lrs[-1] < 5e-3 / 1000
    assert moms[0] == pytest.approx(0.95) and moms[peak] == pytest.approx(0.85, abs=1e-3)
    assert moms[-1] == pytest.approx(0.95, abs=1e-3)
    assert int(np.argmin(moms)) == peak  # momentum moves against the learning rate


def test_constant_and_unknown():
    lrs, _ = schedule("constant", 10, 0.1)
    assert np.all(lrs == 0.1)
    with pytest.raises(ValueError, match="unknown schedule"):
        schedule("cyclic", 10, 0.1)
