"""Training: engines behind one contract (`engines.Engine`), the shared epoch loop, schedules
and the LR finder. `fit(model, data, config)` trains any model kind with the right engine."""

from typing import TYPE_CHECKING

from embedrec import lazy

# imported on first use (`embedrec.lazy`): a served model reads `progress` without the engines
if TYPE_CHECKING:
    from embedrec.training.engines import (
        ENGINES,
        Engine,
        check_engine,
        choose_engine,
        engine_names,
        fit,
    )
    from embedrec.training.loop import EpochLoop
    from embedrec.training.progress import EpochStats, Reporter, RichReporter
else:
    __getattr__, __dir__ = lazy.attach(__name__, __file__)

__all__ = [
    "ENGINES",
    "Engine",
    "EpochLoop",
    "EpochStats",
    "Reporter",
    "RichReporter",
    "check_engine",
    "choose_engine",
    "engine_names",
    "fit",
]
