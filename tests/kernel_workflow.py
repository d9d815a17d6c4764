"""A small run through every trainer with numba kernels and top-k: `python -m tests.kernel_workflow`
prints, as JSON, the kernels it compiled and those numba loaded from its cache on disk."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
from numba.core import event
from numba.core.registry import CPUDispatcher

import embedrec


def run() -> dict[str, list[str]]:
    rng = np.random.default_rng(0)
    users, items = np.nonzero(rng.random((60, 40)) < 0.4)
    frame = pd.DataFrame({"user": users, "item": items, "rating": rng.integers(1, 6, len(users))})
    with event.install_recorder("numba:compile") as compiled:
        split = embedrec.random_split(embedrec.ratings_from_frame(frame), valid_pct=0.2, seed=0)
        for model, engine in (("dot-bias", "fused"), ("bmf", "own"), ("ials", "own")):
            rec = embedrec.train(split, model=model, engine=engine, epochs=1)
            rec.recommend(int(rec.user_map.decode(np.array([0]))[0]), n=5)
        embedrec.evaluate_ranking(rec, split.valid, k=5)  # top-k over a block of users
    kernels = [
        value
        for name, module in list(sys.modules.items())
        if name.startswith("embedrec.")
        for value in vars(module).values()
        if isinstance(value, CPUDispatcher)
    ]
    return {
        "compiled": sorted({e.data["dispatcher"].py_func.__name__ for _, e in compiled.buffer}),
        "loaded": sorted({k.py_func.__name__ for k in kernels if sum(k.stats.cache_hits.values())}),
    }


if __name__ == "__main__":
    print(json.dumps(run()))
