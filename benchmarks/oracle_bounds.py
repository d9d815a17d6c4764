"""How close to the noise floor any model can get on the synthetic presets, from the model that
generated them: estimators that are handed part of the truth, on the same random 20% split
(seed 42) that `embedrec train` and `embedrec benchmark --protocol random:0.2:42` use.

- *noise floor*: the generating model's expected rating (what `train` prints);
- *bias baseline*: `BiasBaseline`, the table's reference, as `embedrec benchmark` fits it;
- *best biases*: user and item offsets fitted jointly with the generator's own variances as
  their priors (the posterior mean of a biases-only model with a Gaussian likelihood, the
  factor part counted as noise);
- *items known*: every item's true bias and factors handed over; each user's bias (and factors)
  is its posterior mean given its training ratings under the generator's own prior, the
  rounded, clipped ratings treated as Gaussian with their measured variance (the bias-only
  column counts each rating's unknown factor part, |item factors|^2 / rank, as noise too); the
  prediction is the expected rounded, clipped rating under that posterior. A real model also
  has to estimate the items, so it can hardly expect to beat this, but it is not a strict
  bound: the exact (ordinal) likelihood of rounded ratings would take it a little lower.

python benchmarks/oracle_bounds.py [--preset sparse --preset ml-1m ...] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import embedrec
from embedrec.data.splits import split_from_spec
from embedrec.data.synthetic import GeneratingModel, synthetic_set, true_ratings
from embedrec.evaluation.metrics import rmse
from embedrec.evaluation.rating import noise_floor
from embedrec.models import BiasBaseline

KNOWN = "items known, user bias"


def encoding_order(encoded: np.ndarray, n: int) -> np.ndarray:
    """The generator's row of each encoded id (generator rows no rating named are left out)."""
    rows = np.empty(n, dtype=np.int64)
    named = encoded >= 0
    rows[encoded[named]] = np.flatnonzero(named)
    return rows


def best_biases(users, items, targets, n_users, n_items, user_damping, item_damping):
    """Joint ridge offsets (alternating exact updates until they settle)."""
    mean = targets.mean()
    user = np.zeros(n_users)
    item = np.zeros(n_items)
    user_count = np.bincount(users, minlength=n_users)
    item_count = np.bincount(items, minlength=n_items)
    for _ in range(50):
        item = np.bincount(items, targets - mean - user[users], n_items)
        item /= item_count + item_damping
        user = np.bincount(users, targets - mean - item[items], n_users)
        user /= user_count + user_damping
    return mean, user, item


def items_known(truth: GeneratingModel, users, items, targets, n_users, valid_users, valid_items,
                noise_var: float, factors: bool):  # fmt: skip
    """Each user's posterior (bias, and factors if `factors`) given the true items; the
    expected rating of each validation row under it."""
    true_rank = truth.item_factors.shape[1]  # factors ~ Normal(0, 1 / rank)
    rank = true_rank if factors else 0
    design = np.hstack([np.ones((len(truth.item_bias), 1)), truth.item_factors[:, :rank]])
    offset = truth.mean + truth.item_bias.astype(np.float64)
    # the variance of u . v_i for a user drawn from the prior: noise when factors are not fitted
    unfitted = 0.0 if factors else (truth.item_factors.astype(np.float64) ** 2).sum(1) / true_rank
    row_var = noise_var + np.broadcast_to(unfitted, offset.shape)
    prior = np.diag(np.r_[1 / truth.user_bias_sd**2, np.full(rank, float(true_rank))])
    order = np.argsort(users, kind="stable")
    indptr = np.r_[0, np.cumsum(np.bincount(users, minlength=n_users))]
    sorted_items, residual = items[order], (targets - offset[items])[order]
    means = np.zeros((n_users, rank + 1))
    covariances = np.zeros((n_users, rank + 1, rank + 1))
    for u in range(n_users):
        rows = slice(indptr[u], indptr[u + 1])
        x = design[sorted_items[rows]]
        weighted = x / row_var[sorted_items[rows], None]
        covariances[u] = np.linalg.inv(weighted.T @ x + prior)
        means[u] = covariances[u] @ (weighted.T @ residual[rows])
    x = design[valid_items]
    scores = offset[valid_items] + np.einsum("ij,ij->i", means[valid_users], x)
    variance = np.einsum("ij,ijk,ik->i", x, covariances[valid_users], x)
    return truth.expected_rating(scores, variance + row_var[valid_items] - noise_var)


def bounds(preset: str, seed: int) -> dict[str, float]:
    frame, truth = synthetic_set(preset, seed=seed)
    split = split_from_spec(embedrec.load_ratings(frame), "random:0.2:42")
    train, valid = split.train, split.valid
    # the generator's arrays in encoding order (train and valid share the id maps; a user or
    # item with no training rating keeps its row and is predicted from the prior, as cold)
    user_of = encoding_order(train.user_map.indexer(truth.user_ids), train.n_users)
    item_of = encoding_order(train.item_map.indexer(truth.item_ids), train.n_items)
    truth = GeneratingModel(
        truth.user_ids[user_of], truth.item_ids[item_of], truth.user_factors[user_of],
        truth.item_factors[item_of], truth.user_bias[user_of], truth.item_bias[item_of],
        truth.mean, truth.noise, truth.user_bias_sd, truth.spec,
    )  # fmt: skip
    n_users, n_items = train.n_users, train.n_items
    valid_users, valid_items = valid.users, valid.items
    y = valid.ratings.astype(np.float64)
    floor = noise_floor(frame, valid)
    assert floor is not None

    scale = train.rating_scale or (float(train.ratings.min()), float(train.ratings.max()))
    baseline = BiasBaseline.fit(train.users, train.items, train.ratings, n_users, n_items)

    def score(pred: np.ndarray) -> float:
        return rmse(np.clip(pred, *scale), y)

    result = {"floor": floor, "baseline": score(baseline.predict(valid_users, valid_items))}

    targets = train.ratings.astype(np.float64)
    train_expected = true_ratings(frame, train).astype(np.float64)
    noise_var = float(np.var(targets - train_expected))  # noise plus rounding
    factor_var = float(
        np.mean(
            np.einsum(
                "ij,ij->i", truth.user_factors[train.users], truth.item_factors[train.items]
            ).astype(np.float64)
            ** 2
        )
    )
    bias_noise = noise_var + factor_var  # what a biases-only model cannot explain
    mean, user, item = best_biases(
        train.users, train.items, targets, n_users, n_items,
        bias_noise / float(np.var(truth.user_bias)), bias_noise / float(np.var(truth.item_bias)),
    )  # fmt: skip
    result["best biases"] = score(mean + user[valid_users] + item[valid_items])
    for factors, name in ((False, KNOWN), (True, KNOWN + " + factors")):
        expected = items_known(
            truth, train.users, train.items, targets, n_users, valid_users, valid_items,
            noise_var, factors,
        )  # fmt: skip
        result[name] = score(expected)
    seen_users = np.bincount(train.users, minlength=n_users) > 0
    seen_items = np.bincount(train.items, minlength=n_items) > 0
    result["cold rows"] = int((~(seen_users[valid_users] & seen_items[valid_items])).sum())
    result["rows"] = len(y)
    return result


def cell(value: float, floor: float, baseline: float) -> str:
    above, better = 100 * (value / floor - 1), 100 * (1 - value / baseline)
    return f"{value:.4f} ({above:+.1f}% floor, {better:+.2f}% vs baseline)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", help="default: sparse and ml-1m")
    parser.add_argument("--seed", type=int, default=0, help="the generator's (embedrec synth's)")
    args = parser.parse_args()
    presets = args.preset or ["sparse", "ml-1m"]
    print("| preset | noise floor | bias baseline | best biases | items known, user bias | "
          "items known, user bias + factors |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for preset in presets:
        start = time.perf_counter()
        r = bounds(preset, args.seed)
        floor, base = r["floor"], r["baseline"]

        cells = [cell(r[key], floor, base) for key in ("best biases", KNOWN, KNOWN + " + factors")]
        print(
            f"| {preset} | {floor:.4f} | {base:.4f} (+{100 * (base / floor - 1):.1f}%) | "
            + " | ".join(cells) + " |",
            flush=True,
        )  # fmt: skip
        print(f"<!-- {preset}: {r['rows']:,} validation rows, {r['cold rows']:,} cold; "
              f"{time.perf_counter() - start:.0f} s -->", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
