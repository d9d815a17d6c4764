"""`als`: the engine of implicit ALS (`embedrec.models.ials`), alternating conjugate-gradient
half-steps over users and items (kernels in `als_kernels`), multithreaded by numba."""

from __future__ import annotations

import numba
import numpy as np
import torch

from embedrec.config import TrainConfig
from embedrec.data.interactions import Interactions
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Model
from embedrec.models.capabilities import AlternatingFactors
from embedrec.training import als_kernels as kernels
from embedrec.training.loop import EpochLoop
from embedrec.training.progress import EpochStats


class ALSEngine:
    name = "als"

    def supports(self, model: Model, device: torch.device) -> bool:
        return isinstance(model, AlternatingFactors) and device.type == "cpu"

    def fit(
        self, model: Model, data: Ratings, config: TrainConfig, loop: EpochLoop
    ) -> list[EpochStats]:
        if not isinstance(model, AlternatingFactors):
            raise ModelError(f"the als engine trains ials models, not {model.name}")
        assert config.epochs is not None
        o = model.options
        seen = Interactions.from_ratings(data, model.rule)
        confidence = (1.0 + o.alpha * seen.weights).astype(np.float32)
        by_item = kernels.transpose_csr(seen.indptr, seen.items, confidence, model.n_items)
        item_indptr, item_users, item_confidence = by_item
        user_regs = model.regularization(np.diff(seen.indptr), model.n_items).astype(np.float32)
        item_regs = model.regularization(np.diff(item_indptr), model.n_users).astype(np.float32)
        users, items = model.user_factors, model.item_factors
        before = numba.get_num_threads()
        if config.threads is not None:
            numba.set_num_threads(config.threads)

        def one_epoch(epoch: int) -> tuple[float, Model | None]:
            gram = (items.T @ items).astype(np.float32)
            loss = kernels.cg_half_step(
                users, items, gram, seen.indptr, seen.items, confidence,
                o.alpha0, user_regs, o.cg_steps,
            )  # fmt: skip
            loop.advance(1)
            gram = (users.T @ users).astype(np.float32)
            kernels.cg_half_step(
                items, users, gram, item_indptr, item_users, item_confidence,
                o.alpha0, item_regs, o.cg_steps,
            )  # fmt: skip
            loop.advance(1)
            return float(loss) / max(seen.nnz, 1), model  # validated by its NDCG

        try:
            return loop.run(config.epochs, 2, one_epoch)
        finally:
            numba.set_num_threads(before)
