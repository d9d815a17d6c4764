"""ease's peak memory per items x items cell, phase by phase: what its memory guard
(`embedrec.models.ease.BYTES_PER_CELL`) must count. Peak RSS growth of this process, so run it
alone.

python benchmarks/ease_memory.py [--items 3000] [--users 3000] [--density 0.05]
"""

from __future__ import annotations

import argparse
import resource

import numpy as np
import pandas as pd
import torch

import embedrec
from embedrec.data.interactions import Interactions
from embedrec.models.ease import BYTES_PER_CELL, EaseKind, EaseOptions
from embedrec.models.gram import dense_gram


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--density", type=float, default=0.05)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    # Pairs drawn sparsely: a dense users x items draw would raise the peak before it is
    # measured and hide the solve's own growth.
    cells = rng.choice(args.users * args.items, int(args.density * args.users * args.items))
    users, items = np.divmod(np.unique(cells), args.items)
    ratings = embedrec.ratings_from_frame(
        pd.DataFrame({"user": users, "item": items, "rating": 1.0 + users % 5})
    )
    model = EaseKind(ratings.n_users, ratings.n_items, EaseOptions())
    model.seen = Interactions.from_ratings(ratings, model.rule)
    cells = ratings.n_items**2
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def grown(phase: str) -> None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"{phase:>8}: {(peak - start) * 1024 / cells:5.1f} bytes per cell (peak so far)")

    gram = torch.from_numpy(dense_gram(model.seen))
    grown("gram")
    gram.diagonal().add_(500.0)
    torch.linalg.cholesky_ex(gram, out=(gram, torch.empty((), dtype=torch.int32)))
    grown("cholesky")
    torch.set_num_threads(1)
    precision = torch.cholesky_inverse(gram)
    del gram
    grown("inverse")
    precision.div_(-precision.diagonal().clone()[None, :])
    weights = precision.float().numpy()
    grown("weights")
    del precision, weights
    print(f"guard counts {BYTES_PER_CELL} bytes per cell ({ratings.n_items:,} items)")


if __name__ == "__main__":
    main()
