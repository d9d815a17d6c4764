"""The HTTP service over a trained model (`embedrec serve`): FastAPI routes in `app`, bodies in
`schemas`, errors and metrics in `errors`, the model and feedback store in `state` and `store`,
the web explorer in `static/`. Its names are imported on first use (`embedrec.lazy`), so the
CLI reaches its light modules without loading FastAPI."""

from typing import TYPE_CHECKING

from embedrec import lazy

if TYPE_CHECKING:
    from embedrec.service.app import create_app
    from embedrec.service.cache import DEFAULT_CACHE_MB
    from embedrec.service.connections import DeadlineProtocol
    from embedrec.service.hygiene import default_hosts
    from embedrec.service.store import FeedbackStore, RejectedWrite, StoreError, default_url
else:
    __getattr__, __dir__ = lazy.attach(__name__, __file__)

__all__ = [
    "DEFAULT_CACHE_MB",
    "DeadlineProtocol",
    "FeedbackStore",
    "RejectedWrite",
    "StoreError",
    "create_app",
    "default_hosts",
    "default_url",
]
