"""A digest of each kind's trained arrays and the engine that trained it, on small synthetic
ratings: run it on two checkouts and `diff` the outputs to show a refactor of the engines
changed nothing, bit for bit (every engine here is deterministic at one thread).

    PYTHONPATH=src python benchmarks/engine_digests.py > after.txt
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

import embedrec

RUNS: list[tuple[str, str, dict[str, Any]]] = [
    ("dot-bias", "auto", {}),
    ("dot-bias", "torch", {}),
    ("dot", "auto", {}),
    ("nn", "auto", {}),
    ("ials", "auto", {}),
    ("bmf", "auto", {"epochs": 20}),
    ("ease", "auto", {}),
    ("bpr", "auto", {}),
    ("average", "auto", {"members": [{"model": "bmf", "epochs": 20}, {"model": "dot-bias"}]}),
]


def ratings(n_users: int = 60, n_items: int = 40, seed: int = 2) -> embedrec.Ratings:
    """Half of a rank-3 matrix's cells, rounded to 1-5 stars."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n_users, 3)) @ rng.normal(size=(3, n_items))
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.5)
    stars = np.clip(np.round(3 + scores[users, items]), 1, 5)
    frame = pd.DataFrame({"user": users, "item": items, "rating": stars})
    return embedrec.ratings_from_frame(frame, rating_scale=(1, 5))


def digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name, array in sorted(arrays.items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()[:16]


def main() -> None:
    split = embedrec.random_split(ratings(), 0.2, 0)
    for model, engine, extra in RUNS:
        overrides = {"epochs": 3, **extra}
        rec = embedrec.train(
            split, model=model, engine=engine, device="cpu", threads=1, **overrides
        )
        print(model, engine, rec.engine, digest(rec.model.arrays()))


if __name__ == "__main__":
    main()
