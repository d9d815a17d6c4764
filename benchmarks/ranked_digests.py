"""Digests of what a user sees from models with a ranker beside the rating model (and without):
lists (known users, a batch, a new user, a cold user), predictions, `evaluate` with and
without `--ranking`, neighbours and the saved files. Run it on two checkouts and `diff` the
outputs to show a refactor of how the Recommender scores changed nothing a user sees; `--save
DIR` writes each model there, `--load DIR` digests the models another checkout saved (the
model directories it wrote must still load, and mean the same).

    PYTHONPATH=src python benchmarks/ranked_digests.py --save /tmp/before > before.txt
    PYTHONPATH=src python benchmarks/ranked_digests.py --load /tmp/before > loaded.txt
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors.numpy import load_file

import embedrec

# (label, training options): the default's choice, named rankers with and without a blend, a
# ranker beside a ranking model, no ranker; and the default on interactions
RUNS: list[tuple[str, dict[str, Any]]] = [
    ("default", {}),
    ("bmf+ease", {"model": "bmf", "ranker": "ease", "blend": 0.5, "epochs": 20}),
    ("dot-bias+ials", {"model": "dot-bias", "ranker": "ials", "blend": 0.3, "epochs": 3}),
    ("dot-bias+popular", {"model": "dot-bias", "ranker": "popular", "epochs": 3}),
    ("ials+ease", {"model": "ials", "ranker": "ease", "blend": 0.7, "epochs": 3}),
    ("dot-bias", {"model": "dot-bias", "ranker": None, "epochs": 3}),
]


def ratings(n_users: int = 80, n_items: int = 50, seed: int = 2, plays: bool = False):
    """Half of a rank-3 matrix's cells, rounded to 1-5 stars (or, `plays`, counts 1-20)."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n_users, 3)) @ rng.normal(size=(3, n_items))
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.5)
    stars = np.clip(np.round(3 + scores[users, items]), 1, 5)
    frame = pd.DataFrame({"user": users, "item": items + 1000, "rating": stars})
    frame["title"] = [f"film {i}" for i in frame["item"]]
    if plays:
        frame["plays"] = np.clip(np.round(np.exp(scores[users, items])), 1, 20)
        return embedrec.ratings_from_frame(frame.drop(columns="rating"), weight_col="plays")
    return embedrec.ratings_from_frame(frame, rating_scale=(1, 5))


def digest(value: Any) -> str:
    """A short hash of a frame, an array, a dict or text, floats at full precision."""
    if isinstance(value, pd.DataFrame):
        value = value.to_csv(index=False, float_format="%.9g")
    elif isinstance(value, np.ndarray):
        value = np.ascontiguousarray(value).tobytes()
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, str):
        value = value.encode()
    return hashlib.sha256(value).hexdigest()[:16]


def outputs(rec: embedrec.Recommender, split: embedrec.Split) -> dict[str, Any]:
    """What a user sees of `rec`, by name."""
    users = rec.user_map.to_list()
    items = rec.item_map.to_list()
    seen = {"interactions": rec.interactions, "model_name": rec.model_name, "blend": rec.blend}
    out: dict[str, Any] = {"what": seen}
    out["recommend one"] = pd.concat([rec.recommend(u, n=5) for u in users[:10]])
    out["recommend batch"] = rec.recommend(users, n=7)
    out["recommend batch seen"] = rec.recommend(users[:20], n=7, exclude_seen=False)
    out["recommend among"] = rec.recommend(users[3], n=5, items=items[:30], exclude=items[:2])
    out["score_items"] = rec.score_items(np.arange(rec.n_users))
    new = {items[k]: float(1 + k % 5) for k in range(0, 12, 2)}
    pairs = [(u, i) for u in users[:15] for i in items[:10]]
    calls = {
        "recommend liked": lambda: rec.recommend(liked=list(new)[:4], n=8),
        "recommend new": lambda: rec.recommend(ratings=new, n=8),
        "predict": lambda: rec.predict(pairs),
        "predict new": lambda: rec.predict_new(new, items[:20]),
        "evaluate": lambda: embedrec.evaluate(rec, split.valid),
        "evaluate ranking": lambda: embedrec.evaluate(rec, split.valid, ranking=True, k=5),
        "similar": lambda: rec.similar_items(items[0], n=5, min_ratings=1),
        "similar users": lambda: rec.similar_users(users[0], n=5, min_ratings=1),
        "typical": lambda: rec.typical_ratings(),
    }
    for name, call in calls.items():
        try:
            out[name] = call()
        except embedrec.EmbedrecError as exc:  # the refusal is an output too
            out[name] = f"{type(exc).__name__}: {exc}"
    return out


def saved(path: Path) -> dict[str, Any]:
    """The saved directory's meaning: config.json less what differs run to run (the version,
    the seconds each candidate took, the checksums that cover them), and the arrays."""
    config = json.loads((path / "config.json").read_text())
    for key in ("embedrec_version", "checksums"):
        config.pop(key, None)
    for trial in config.get("selection") or []:
        trial.pop("seconds")
    config["arrays"] = {k: digest(v) for k, v in load_file(path / "weights.safetensors").items()}
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--save", type=Path, help="save each model under this directory")
    parser.add_argument("--load", type=Path, help="digest the models saved under this one")
    args = parser.parse_args()
    runs = RUNS + [("default on plays", {"interactions": True})]
    for label, options in runs:
        plays = options.pop("interactions", False)
        data = ratings(plays=plays)
        split = embedrec.random_split(data, 0.2, 0)
        where = (args.load or args.save or Path()) / label.replace(" ", "-")
        if args.load:
            rec = embedrec.load(where)
        else:
            rec = embedrec.train(split, device="cpu", threads=1, seed=0, **options)
        if args.save:
            rec.save(where, force=True)
            print(label, "saved", digest(saved(where)))
        for name, value in outputs(rec, split).items():
            print(label, name, digest(value))


if __name__ == "__main__":
    main()
