"""The HTTP service over a trained model (`embedrec serve`): FastAPI routes in `app`, bodies in
`schemas`, errors and metrics in `errors`, the model and feedback store in `state` and `store`,
the web explorer in `static/`."""

from embedrec.service.app import create_app
from embedrec.service.store import FeedbackStore, RejectedWrite, StoreError, default_url

__all__ = ["FeedbackStore", "RejectedWrite", "StoreError", "create_app", "default_url"]
