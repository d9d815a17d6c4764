"""Keywords renamed so that the same thing has the same name everywhere ("how many" is `n`, as
in `recommend(user, n=10)`): the old keyword still works for now, with a DeprecationWarning
naming the new one, so a user's script keeps running and learns the new spelling."""

from __future__ import annotations

import warnings
from typing import TypeVar

T = TypeVar("T")


def renamed_keyword(function: str, old: str, new: str, old_value: T | None, value: T) -> T:
    """`value`, or `old_value` where the caller still used the old keyword `old` (warned)."""
    if old_value is None:
        return value
    warnings.warn(
        f"{function}({old}=) is renamed {function}({new}=); {old}= will be removed",
        DeprecationWarning,
        stacklevel=3,  # the caller of the renamed function
    )
    return old_value
