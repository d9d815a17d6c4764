"""One table over several data sets: every default judged on more than MovieLens 100k.

On fixed seeded splits of MovieLens 100k (u1), MovieTweetings 100K (0-10 stars, most users with
one or two ratings; random 10% of rows, seed 42), Last.fm HetRec 2011 (play counts, no ratings;
random 10%, seed 42) and the `ml-100k` and `sparse` synthetic presets (random 20%, seed 42):

- RMSE, over all test rows and over the warm ones (user and item both in training), of the
  default, the chapter's dot-bias, bmf and the bias baseline (rating sets only);
- precision, recall, NDCG and coverage at k of the default, EASE, iALS, BPR (once it is a
  kind), the most popular items and implicit's ALS and BPR, all scored by the same code
  (`embedrec.evaluate_ranking`: full ranking over every item, training items excluded).
  Relevant: a test rating >= 4 of 5, >= 8 of 10 on MovieTweetings, every held-out play on
  Last.fm. EASE, iALS and implicit's ALS and BPR run at their defaults and over the small grids
  below; the best of a grid is picked on the test split, so it is an upper bar, not a result.

Seconds are wall time on whatever ran it (train + evaluate). implicit is installed in the
benchmark environment only.

python benchmarks/datasets.py [--sets ml100k,movietweetings,lastfm,synthetic-ml100k,...]
                              [--quick] [--json out.json] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import operator
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from implicit.als import AlternatingLeastSquares
from implicit.bpr import BayesianPersonalizedRanking
from ranking_peers import Scorer, implicit_scorer, user_items
from threadpoolctl import threadpool_limits

import embedrec
from embedrec.data.synthetic import synthetic_set
from embedrec.evaluation.rating import evaluate_baseline

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data
SEED = 42  # every split's
SYNTHETIC_SEED = 0  # `embedrec synth`'s default
K = 10
RMSE_RIVALS = ("bias baseline", "dot-bias", "bmf")
RANKING_RIVALS = ("EASE", "iALS", "implicit ALS")  # each at its best of the grid
ML100K_TARGETS = {"rmse": 0.889, f"precision@{K}": 0.39, f"ndcg@{K}": 0.46}  # the default's, u1

# Grids: a few settings around each system's defaults ({} is the system at its defaults).
EASE_GRID: list[dict[str, Any]] = [
    {},
    {"options": {"l2": 100.0}},
    {"options": {"l2": 250.0}},
    {"options": {"l2": 1000.0}},
    {"options": {"l2": 2000.0}},
]
EASE_GRID_MAX_ITEMS = 5_000  # past this an EASE fit takes minutes here: only these two
EASE_GRID_LARGE: list[dict[str, Any]] = [{}, {"options": {"l2": 100.0}}]
IALS_GRID: list[dict[str, Any]] = [
    {},
    {"options": {"reg": 0.005, "alpha0": 0.1}},
    {"options": {"reg": 0.01, "alpha0": 0.3}},
    {"options": {"reg": 0.05, "alpha0": 1.0}},
    {"n_factors": 128},
    {"n_factors": 128, "options": {"reg": 0.01, "alpha0": 0.3}},
]
IMPLICIT_ALS_GRID: list[dict[str, Any]] = [
    {},  # implicit 0.7's defaults: 100 factors, regularization 0.01, alpha 1, 15 iterations
    {"factors": 64, "regularization": 0.05, "alpha": 1.0},  # benchmarks/ranking_peers.py's
    {"factors": 128, "regularization": 0.05, "alpha": 1.0},
    {"factors": 64, "regularization": 0.5, "alpha": 1.0},
    {"factors": 64, "regularization": 0.05, "alpha": 10.0},
    {"factors": 128, "regularization": 0.5, "alpha": 10.0},
]
IMPLICIT_BPR_GRID: list[dict[str, Any]] = [
    {},  # implicit 0.7's defaults: 100 factors, learning rate 0.01, regularization 0.01
    {"factors": 64, "learning_rate": 0.01, "regularization": 0.01},  # ranking_peers.py's
    {"factors": 128, "learning_rate": 0.05, "regularization": 0.01},
    {"factors": 64, "learning_rate": 0.05, "regularization": 0.001},
]


REFUSED = "refused (too large)"


class MissingData(Exception):
    """A data set's file is not where the script looks: the set is skipped, with this reason."""


@dataclass
class DataSet:
    """One fixed split and how its test rows are judged."""

    name: str
    split: embedrec.Split
    threshold: float | None  # a relevant test row's least rating; None: every held-out row
    about: str  # the source and the split, for the table's caption
    frame: Any = None  # a synthetic set's generating frame (its noise floor)

    @property
    def rated(self) -> bool:
        return not self.split.train.interactions


def _need(path: Path) -> Path:
    if not path.exists():
        raise MissingData(f"{path} not found (--data-dir names the folder that holds the sets)")
    return path


def movielens_u1(data_dir: Path) -> DataSet:
    folder = _need(data_dir / "movielens" / "ml-100k")
    _need(folder / "u1.base")
    split = embedrec.load_split("movielens-100k", "u1", data_dir=folder.parent)
    return DataSet("ml100k", split, 4.0, "MovieLens 100k, u1.base / u1.test")


def movietweetings(data_dir: Path) -> DataSet:
    path = _need(data_dir / "movietweetings" / "snapshots" / "100K" / "ratings.dat")
    ratings = embedrec.load_ratings(
        path, sep="::", header=False, columns="user,item,rating,timestamp", rating_scale=(0, 10)
    )
    split = embedrec.random_split(ratings, 0.1, SEED)
    return DataSet("movietweetings", split, 8.0, f"MovieTweetings 100K, random 10%, seed {SEED}")


def load_plays(path: Path) -> embedrec.Ratings:
    """Last.fm's play counts as interactions (the `weight` column is recognised as a count)."""
    return embedrec.load_ratings(path)


def lastfm(data_dir: Path) -> DataSet:
    path = _need(data_dir / "lastfm" / "hetrec2011-lastfm-2k" / "user_artists.dat")
    split = embedrec.random_split(load_plays(path), 0.1, SEED)
    return DataSet("lastfm", split, None, f"Last.fm HetRec 2011 plays, random 10%, seed {SEED}")


def synthetic(name: str, preset: str) -> Callable[[Path], DataSet]:
    def load(data_dir: Path) -> DataSet:
        frame = synthetic_set(preset, seed=SYNTHETIC_SEED)[0]
        scale = embedrec.SYNTHETIC_PRESETS[preset].rating_scale
        split = embedrec.random_split(embedrec.load_ratings(frame, rating_scale=scale), 0.2, SEED)
        about = f"synthetic `{preset}` (seed {SYNTHETIC_SEED}), random 20%, seed {SEED}"
        return DataSet(name, split, 4.0, about, frame)

    return load


SETS: dict[str, Callable[[Path], DataSet]] = {
    "ml100k": movielens_u1,
    "movietweetings": movietweetings,
    "lastfm": lastfm,
    "synthetic-ml100k": synthetic("synthetic-ml100k", "ml-100k"),
    "synthetic-sparse": synthetic("synthetic-sparse", "sparse"),
}


def load_sets(
    names: Sequence[str] = tuple(SETS), data_dir: Path = DATA_DIR
) -> tuple[list[DataSet], dict[str, str]]:
    """The named sets that load, and why each of the others was skipped."""
    unknown = set(names) - set(SETS)
    if unknown:
        raise SystemExit(f"unknown set(s) {', '.join(sorted(unknown))}; use {', '.join(SETS)}")
    sets, skipped = [], {}
    for name in names:
        try:
            sets.append(SETS[name](Path(data_dir)))
        except MissingData as error:
            skipped[name] = str(error)
    return sets, skipped


@dataclass
class Trainer:
    """embedrec's models on one set, each config trained once (a grid's default setting and
    its kind's defaults are one training), with its training seconds."""

    data: DataSet
    threads: int

    def __post_init__(self) -> None:
        self.trained: dict[str, tuple[embedrec.Recommender, float]] = {}

    def fit(self, **settings: Any) -> tuple[embedrec.Recommender, float, bool]:
        """(Recommender, training seconds, whether an earlier row already trained it)."""
        config = embedrec.TrainConfig().merged(threads=self.threads, **settings)
        key = json.dumps(config.to_dict(), sort_keys=True, default=str)
        reused = key in self.trained
        if not reused:
            start = time.perf_counter()
            rec = embedrec.train(self.data.split, config)
            self.trained[key] = (rec, time.perf_counter() - start)
        return (*self.trained[key], reused)


RATING_SYSTEMS = {"default": {}, "dot-bias": {"model": "dot-bias"}, "bmf": {"model": "bmf"}}


def rating_rows(data: DataSet, trainer: Trainer) -> list[dict[str, Any]]:
    """RMSE over all test rows and over the warm ones of the default (its rating model: the
    ranker predicts no rating), dot-bias, bmf and the default's bias baseline."""
    test, rows = data.split.valid, []
    for system, settings in RATING_SYSTEMS.items():
        rec, seconds, reused = trainer.fit(**settings)
        warm = test.subset(rec.is_warm(test.users, test.items))
        figures = {"n_cold": len(test) - len(warm)}
        rows.append(
            {
                "system": system,
                "rmse": embedrec.evaluate(rec, test)["rmse"],
                "rmse_warm": embedrec.evaluate(rec, warm)["rmse"],
                **figures,
                "seconds": seconds,
                "note": "same config as the default's: trained once"
                if reused and system != "default"
                else "",
            }
        )
        if system == "default":
            rows.append(
                {
                    "system": "bias baseline",
                    "rmse": evaluate_baseline(rec, test)["rmse"],
                    "rmse_warm": evaluate_baseline(rec, warm)["rmse"],
                    **figures,
                    "note": "fitted inside the default's training",
                }
            )
    return rows


@dataclass(frozen=True)
class Family:
    """A ranking system: how to train it at one setting, and the settings it runs at."""

    name: str
    scorer: Callable[[DataSet, Trainer, dict[str, Any]], Scorer]
    grid: list[dict[str, Any]]


def embedrec_kind(kind: str) -> Callable[[DataSet, Trainer, dict[str, Any]], Scorer]:
    def scorer(data: DataSet, trainer: Trainer, setting: dict[str, Any]) -> Scorer:
        return trainer.fit(**({"model": kind} if kind else {}), **setting)[0].score_items

    return scorer


def implicit_als(data: DataSet, trainer: Trainer, setting: dict[str, Any]) -> Scorer:
    model = AlternatingLeastSquares(**setting, random_state=SEED, num_threads=trainer.threads)
    return implicit_fit(model, data)


def implicit_bpr(data: DataSet, trainer: Trainer, setting: dict[str, Any]) -> Scorer:
    model = BayesianPersonalizedRanking(**setting, random_state=SEED, num_threads=trainer.threads)
    return implicit_fit(model, data)


def implicit_fit(model: Any, data: DataSet) -> Scorer:
    """implicit's model trained on which items each user chose; BLAS on one thread while it
    trains, as implicit asks (its own threads do the work; two pools fight over 2 cores)."""
    with threadpool_limits(1, "blas"):
        return implicit_scorer(model, user_items(data.split.train))


def popularity(data: DataSet, trainer: Trainer, setting: dict[str, Any]) -> Scorer:
    return embedrec.popularity_scores(data.split.train)


def families(data: DataSet, grids: bool) -> list[Family]:
    """The ranking systems on this set, each with its grid (or only its defaults)."""
    ease = EASE_GRID if data.split.train.n_items <= EASE_GRID_MAX_ITEMS else EASE_GRID_LARGE
    found = [
        Family("default", embedrec_kind(""), [{}]),
        Family("EASE", embedrec_kind("ease"), ease),
        Family("iALS", embedrec_kind("ials"), IALS_GRID),
        Family("implicit ALS", implicit_als, IMPLICIT_ALS_GRID),
        Family("implicit BPR", implicit_bpr, IMPLICIT_BPR_GRID),
        Family("most popular", popularity, [{}]),
    ]
    if "bpr" in embedrec.model_names():
        found.insert(3, Family("BPR", embedrec_kind("bpr"), [{}]))
    return [f if grids else Family(f.name, f.scorer, [{}]) for f in found]


def ranking_run(data: DataSet, trainer: Trainer, family: Family, setting: dict[str, Any]) -> dict:
    """One system at one setting: its metrics at K and seconds, or why it did not run."""
    start = time.perf_counter()
    try:
        scorer = family.scorer(data, trainer, setting)
    except embedrec.TooLargeError:
        return {"setting": setting, "note": REFUSED}
    except embedrec.EmbedrecError as error:
        return {"setting": setting, "note": f"error: {error}"}
    metrics = embedrec.evaluate_ranking(
        scorer, data.split.train, data.split.valid, K, data.threshold
    )
    return {"setting": setting, **metrics, "seconds": time.perf_counter() - start}


def family_runs(data: DataSet, trainer: Trainer, family: Family) -> list[dict[str, Any]]:
    """The family at each setting of its grid, defaults first; a catalogue refused as too large
    at one setting is at every other (the size does not depend on them): the grid stops."""
    runs = []
    for setting in family.grid:
        runs.append(ranking_run(data, trainer, family, setting))
        if runs[-1].get("note") == REFUSED:
            break
    return runs


def ranking_rows(data: DataSet, trainer: Trainer, grids: bool) -> tuple[list[dict], dict]:
    """Each family at its defaults and, with a grid, its best setting by NDCG@K on the test
    split (an upper bar); also every grid run, by family."""
    rows, runs = [], {}
    for family in families(data, grids):
        runs[family.name] = family_runs(data, trainer, family)
        _progress(f"{data.name}, {family.name}: {len(runs[family.name])} setting(s) done")
        default, n = runs[family.name][0], len(family.grid)
        rows.append({**default, "system": f"{family.name}, defaults" if n > 1 else family.name})
        scored = [run for run in runs[family.name] if f"ndcg@{K}" in run]
        best = max(scored, key=lambda run: run[f"ndcg@{K}"]) if n > 1 and scored else None
        if best is default:
            rows[-1]["note"] = f"also the best of {n} on test"
        elif best is not None:
            label = f"{family.name}, best of {n} on test: {_setting(best['setting'])}"
            rows.append({**best, "system": label, "note": "upper bar"})
    if "bpr" not in embedrec.model_names():
        rows.append({"system": "BPR", "note": "not a kind of this embedrec yet"})
    return rows, runs


def run(
    sets: Sequence[DataSet], *, grids: bool = True, threads: int = 2, rmse: bool = True
) -> dict[str, Any]:
    """Every system on every set: the table's rows (one per set x system; the default's RMSE
    and ranking on one row), each set's description and every grid run."""
    rows, described, grid_runs = [], [], {}
    for data in sets:
        described.append(describe(data))
        trainer = Trainer(data, threads)  # ranking first: the default's seconds include training
        ranked, grid_runs[data.name] = ranking_rows(data, trainer, grids)
        rated = rating_rows(data, trainer) if rmse and data.rated else []
        merged = {row["system"]: row for row in rated}
        merged["default"] = {**merged.get("default", {}), **ranked[0]}
        rows += [{"set": data.name, **row} for row in [*merged.values(), *ranked[1:]]]
        _progress(f"{data.name} done")
    return {"k": K, "sets": described, "rows": rows, "grid_runs": grid_runs}


OPERATORS = {"<=": operator.le, ">=": operator.ge, ">": operator.gt}


def targets(result: dict[str, Any]) -> list[str]:
    """The issue's targets on every set: each 'holds' or 'MISSES', with the figures compared."""
    lines = []
    for name in dict.fromkeys(row["set"] for row in result["rows"]):
        rows = {row["system"]: row for row in result["rows"] if row["set"] == name}

        checks = [("rmse", "<=", _best(rows, "rmse", RMSE_RIVALS, min), ", ".join(RMSE_RIVALS))]
        for metric in (f"precision@{K}", f"ndcg@{K}"):
            checks.append(
                (metric, ">=", _best(rows, metric, RANKING_RIVALS, max), ", ".join(RANKING_RIVALS))
            )
            checks.append(
                (metric, ">", _best(rows, metric, ("most popular",), max), "most popular")
            )
        if name == "ml100k":
            for metric, bar in ML100K_TARGETS.items():
                checks.append((metric, "<=" if metric == "rmse" else ">=", bar, "the target"))
        ours = rows["default"]
        for metric, op, bar, what in checks:
            if ours.get(metric) is not None and bar is not None:
                verdict = "holds" if OPERATORS[op](ours[metric], bar) else "MISSES"
                lines.append(
                    f"{name}: default {metric} {ours[metric]:.4f} {op} {bar:.4f} "
                    f"({'best of ' if ',' in what else ''}{what}): {verdict}"
                )
    return lines


def _best(rows: dict[str, dict], metric: str, systems: tuple[str, ...], pick: Callable) -> Any:
    """The best `metric` among these systems' rows (any setting), None if none has it."""
    values = [
        row[metric]
        for system, row in rows.items()
        if system.split(",")[0] in systems and row.get(metric) is not None
    ]
    return pick(values) if values else None


def describe(data: DataSet) -> dict[str, Any]:
    train, test = data.split.train, data.split.valid
    warm = (train.user_counts()[test.users] > 0) & (train.item_counts()[test.items] > 0)
    relevant = test.users if data.threshold is None else test.users[test.ratings >= data.threshold]
    return {
        "set": data.name,
        "about": data.about,
        "users": train.n_users,
        "items": train.n_items,
        "train": len(train),
        "test": len(test),
        "cold_test_rows": int((~warm).sum()),
        "relevant": "every held-out row" if data.threshold is None else f">= {data.threshold:g}",
        "users_ranked": int(len(np.unique(relevant))),
        "noise_floor": None if data.frame is None else embedrec.noise_floor(data.frame, test),
    }


COLUMNS = [("rmse", "RMSE"), ("rmse_warm", "RMSE warm"), ("n_cold", "cold rows")] + [
    (f"{name}@{K}", f"{label}@{K}")
    for name, label in [("precision", "P"), ("recall", "R"), ("ndcg", "NDCG"), ("coverage", "cov")]
]


def markdown(result: dict[str, Any]) -> str:
    """The sets' table, then the one table of every set x system."""
    lines = [
        "| set | source, split | users | items | train | test | cold test rows | relevant "
        "| users ranked | noise floor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result["sets"]:
        floor = "-" if s["noise_floor"] is None else f"{s['noise_floor']:.4f}"
        lines.append(
            f"| {s['set']} | {s['about']} | {s['users']:,} | {s['items']:,} | {s['train']:,} "
            f"| {s['test']:,} | {s['cold_test_rows']:,} | {s['relevant']} | {s['users_ranked']:,} "
            f"| {floor} |"
        )
    header = " | ".join(label for _, label in COLUMNS)
    lines += ["", f"| set | system | {header} | seconds (2-core shared VM) | note |"]
    lines.append("|---|---|" + "---|" * (len(COLUMNS) + 2))
    for row in result["rows"]:
        cells = " | ".join(_cell(row.get(key)) for key, _ in COLUMNS)
        seconds = "-" if row.get("seconds") is None else f"{row['seconds']:.1f}"
        lines.append(
            f"| {row['set']} | {row['system']} | {cells} | {seconds} | {row.get('note', '')} |"
        )
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4f}"


def _setting(setting: dict[str, Any]) -> str:
    flat = {**{k: v for k, v in setting.items() if k != "options"}, **setting.get("options", {})}
    return ", ".join(f"{key} {value:g}" for key, value in flat.items())


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma list of {', '.join(SETS)}")
    parser.add_argument("--quick", action="store_true", help="defaults only, no grids")
    parser.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    sets, skipped = load_sets([s.strip() for s in args.sets.split(",") if s.strip()], args.data_dir)
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    result = run(sets, grids=not args.quick, threads=args.threads)
    result.update(skipped=skipped, quick=args.quick, seconds=time.perf_counter() - start)
    print(markdown(result))
    result["targets"] = targets(result)
    print("\n" + "\n".join(f"- {line}" for line in result["targets"]))
    print(f"\n{result['seconds']:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
