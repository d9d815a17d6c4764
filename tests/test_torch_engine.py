"""The PyTorch engine's CPU choices: threads by batch size, sparse steps for large tables."""

import numpy as np
import pytest
import torch

from embedrec import ModelError, random_split, ratings_from_frame, train
from embedrec.models import DotProductBias
from embedrec.training import Reporter
from embedrec.training.gradients import SPARSE_ROWS_X_WIDTH, TorchSteps, wants_sparse
from embedrec.training.threads import MANY_THREADS_FROM, threads_for, torch_threads
from embedrec.training.torch_engine import fit_torch
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module")
def split():
    frame = low_rank_frame(n_users=120, n_items=90, density=0.4, seed=4)
    return random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)


def test_small_batches_train_on_one_thread_and_the_setting_is_restored():
    before = torch.get_num_threads()
    assert threads_for(64) == 1 and threads_for(64, threads=3) == 3
    assert threads_for(MANY_THREADS_FROM) == before
    with torch_threads(None, 64, torch.device("cpu")) as chosen:
        assert chosen == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ModelError, match="threads must be at least 1"):
        threads_for(64, threads=0)


class ThreadsSeen(Reporter):
    """Records torch's thread count while each epoch trains."""

    def __init__(self):
        self.seen = []

    def end_epoch(self, stats):
        self.seen.append(torch.get_num_threads())


@pytest.mark.parametrize("threads", [1, None])
def test_threads_option_reaches_the_torch_engine(split, threads):
    """Large batches train on every core unless `threads` says otherwise; afterwards torch's
    own setting is back."""
    before = torch.get_num_threads()
    seen = ThreadsSeen()
    rec = train(split, model="nn", epochs=1, bs=2048, threads=threads, progress=seen)
    assert rec.engine == "torch"
    assert seen.seen == [1 if threads == 1 else before]
    assert torch.get_num_threads() == before


def test_sparse_steps_move_only_the_rows_of_the_batch():
    torch.manual_seed(0)
    network = DotProductBias(50, 40, 8, (0.0, 5.5))
    steps = TorchSteps(network, lr=1e-2, wd=0.1, sparse=True)
    before = network.user_factors.weight.detach().clone()
    users, items = torch.tensor([3, 7, 7]), torch.tensor([1, 2, 5])
    steps.step((users, items, torch.tensor([4.0, 2.0, 5.0])), lr=1e-2)
    moved = (network.user_factors.weight.detach() != before).any(dim=1).nonzero().flatten()
    assert moved.tolist() == [3, 7]
    steps.close()
    assert not network.user_factors.sparse  # dense again for fold-in and the user's own code


def test_sparse_steps_learn(split):
    """Sparse steps with lazy decay train the model (on ML-100k they land within 0.003 valid
    MSE of dense AdamW at the chapter's recipe: `benchmarks/torch_cpu.py`, BENCHMARKS.md)."""
    torch.manual_seed(1)
    t = split.train
    network = DotProductBias(t.n_users, t.n_items, 50, (0.0, 5.5))
    history = fit_torch(network, t.users, t.items, t.ratings, epochs=4, seed=1, sparse=True)
    with torch.no_grad():
        valid = network(torch.as_tensor(split.valid.users), torch.as_tensor(split.valid.items))
    rmse = float(torch.sqrt(torch.mean((valid - torch.as_tensor(split.valid.ratings)) ** 2)))
    mean_only = float(np.sqrt(np.mean((split.valid.ratings - t.ratings.mean()) ** 2)))
    assert rmse < 0.9 * mean_only and history[-1].train_loss < history[0].train_loss


def test_large_tables_go_sparse_and_small_ones_stay_dense():
    assert not wants_sparse(DotProductBias(944, 1665, 50))
    rows = SPARSE_ROWS_X_WIDTH // 50 + 1
    assert wants_sparse(DotProductBias(rows, 10, 50))
