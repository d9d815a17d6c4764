"""`TrainConfig`: every hyper-parameter of a training run in one JSON-able place, so a run can
be saved with its model, repeated from a file (`train --config`), and compared."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from embedrec.errors import ModelError


@dataclass
class TrainConfig:
    """Defaults are the fastai chapter's recipe for `DotProductBias`.

    `y_range="auto"` becomes (0, 1.1 * max rating) for ratings on a positive scale, fastai's
    (0, 5.5) for MovieLens (the declared rating scale, else the range seen in training);
    None turns the sigmoid off.
    """

    model: str = "dot-bias"
    n_factors: int = 50
    layers: list[int] = field(default_factory=lambda: [100, 50])
    dropout: float = 0.0
    y_range: str | tuple[float, float] | None = "auto"
    epochs: int = 5
    lr: float = 5e-3
    wd: float = 0.1
    bs: int = 64
    schedule: str = "one-cycle"
    seed: int = 42
    device: str = "auto"
    engine: str = "auto"
    threads: int | None = None  # fused engine only; default: all cores

    def __post_init__(self):
        if isinstance(self.y_range, list):
            self.y_range = tuple(self.y_range)
        for name in ("epochs", "bs", "n_factors"):
            if getattr(self, name) < 1:
                raise ModelError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ModelError(f"lr must be positive, got {self.lr}")
        if self.wd < 0:
            raise ModelError(f"wd must be zero or positive, got {self.wd}")
        if isinstance(self.y_range, tuple) and not self.y_range[0] < self.y_range[1]:
            raise ModelError(f"y_range must be (low, high) with low < high, got {self.y_range}")

    def replace(self, **changes) -> TrainConfig:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ModelError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        return TrainConfig(**{**asdict(self), **changes})

    def resolved_y_range(self, scale: tuple[float, float] | None) -> tuple[float, float] | None:
        if self.y_range != "auto":
            return self.y_range  # type: ignore[return-value]
        if scale is None:
            return None
        low, high = scale
        low = 0.0 if low >= 0 else low - 0.1 * (high - low)
        return (low, round(high + 0.1 * (high - low), 6))

    def model_config(self, scale: tuple[float, float] | None) -> dict:
        """The keyword arguments the chosen model class takes."""
        y_range = self.resolved_y_range(scale)
        if self.model == "nn":
            return {"layers": list(self.layers), "dropout": self.dropout, "y_range": y_range}
        if self.model == "bmf":  # the posterior mean is linear in its samples: no sigmoid
            return {"n_factors": self.n_factors, "y_range": None}
        return {"n_factors": self.n_factors, "y_range": y_range}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: not a readable JSON training config ({exc})") from None
        if not isinstance(values, dict):
            raise ModelError(f"{path}: a training config is a JSON object")
        return cls().replace(**values)
