"""What each part of bmf's sparse-data defaults is worth: settings against the bias baseline
fitted in the same run, on the ml100k-sparse protocol and (with --synthetic) on the `sparse`
synthetic preset's random 20% split (seed 42). These are test-side figures: they justify
the defaults after the fact and are printed with the seeds that move them.

python benchmarks/sparse_defaults.py [--synthetic sparse.parquet]
"""

from __future__ import annotations

import argparse
from typing import Any

from embedrec.protocols import run_protocol

ML_GRID: list[dict[str, Any]] = [  # unset options: the defaults the data picks
    {"n_factors": 10, "epochs": 100, "options": {"shrink": 0.0}},
    {"n_factors": 4, "epochs": 100, "options": {"shrink": 0.0}},
    {"n_factors": 4, "epochs": 300, "options": {"shrink": 0.0}},
    {"options": {"shrink": 1.0}},
    {},
    {"options": {"shrink": 5.0}},
    {"robust": False},
    {"seed": 0},
    {"seed": 1},
    {"seed": 2},
    {"seed": 3},
]
SYNTHETIC_GRID: list[dict[str, Any]] = [{}, {"implicit": True, "robust": True}]


def row(protocol: str, data: str, settings: dict[str, Any]) -> None:
    result = run_protocol(protocol, data, **settings)
    gain = 100 * (1 - result["rmse_mean"] / result["baseline_rmse_mean"])
    floor = result["noise_floor_mean"]
    print(
        f"{protocol:>14}  {str(settings or 'defaults'):<58}  RMSE {result['rmse_mean']:.4f}  "
        f"baseline {result['baseline_rmse_mean']:.4f}  {gain:+.2f}%"
        + (f"  noise floor {floor:.4f}" if floor is not None else ""),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", help="a file from `embedrec synth --preset sparse`")
    args = parser.parse_args()
    for settings in ML_GRID:
        row("ml100k-sparse", "movielens-100k", settings)
    if args.synthetic:
        for settings in SYNTHETIC_GRID:
            row("random:0.2:42", args.synthetic, settings)


if __name__ == "__main__":
    main()
