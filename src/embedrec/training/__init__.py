"""Training: engines behind one contract (`engines.Engine`), the shared epoch loop, schedules
and the LR finder. `fit(model, data, config)` trains any model kind with the right engine."""

from embedrec.training.engines import ENGINES, Engine, choose_engine, engine_names, fit
from embedrec.training.loop import EpochLoop
from embedrec.training.progress import EpochStats, Reporter, RichReporter

__all__ = [
    "ENGINES",
    "Engine",
    "EpochLoop",
    "EpochStats",
    "Reporter",
    "RichReporter",
    "choose_engine",
    "engine_names",
    "fit",
]
