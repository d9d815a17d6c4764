"""JSON a user wrote (a --config file, --ratings, --option values, the settings file), parsed so
that every malformed document fails the same way.

Python's decoder recurses once per level of nesting: `[[[...]]]` some thousands deep raises
RecursionError, which no caller expecting a JSON error catches, and the CLI printed a
traceback. Here such a document is one more `json.JSONDecodeError`.
"""

from __future__ import annotations

import json
from typing import Any


def loads(text: str | bytes) -> Any:
    """`json.loads`, with nesting too deep to decode reported as a JSONDecodeError."""
    try:
        return json.loads(text)
    except RecursionError:
        error = json.JSONDecodeError("nested too deeply to read", "", 0)
        error.args = ("nested thousands of levels deep, too deep to read",)
        raise error from None
